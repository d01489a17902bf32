#!/usr/bin/env bash
# Build the CPU image from docker/Dockerfile and run it for real, end to end (issue 18):
#   base   a Debian bookworm base made with debootstrap and imported, if the engine has none, and on it a
#          Python base: /opt/venv on PATH (Debian's python3 refuses pip installs outside a venv) and the
#          host's CA bundle for pip (a host behind an HTTPS proxy with its own CA needs it; elsewhere it
#          is the usual bundle);
#   build  nas-scaling:local from docker/Dockerfile on that base (the image compose.yaml names);
#   grid   `nas-scaling grid --budget 2xFLOPS` in the image, and its grid.json checked;
#   stack  compose.yaml's services with compose.check.yaml on top (host networking, CPU only): mlflow,
#          optuna-dashboard, ray-head and one ray-worker up, the runner's grid run on them, then checked
#          over HTTP on 127.0.0.1: its trial runs are in MLflow and ran on the worker's Ray node, its study
#          is in optuna-dashboard; then the stack goes down, volumes and all.
#
# Usage: docker/check.sh [STEP...]      (default: base build grid stack; a step needs the earlier images)
#
# Needs a Docker engine; the check was made for one started as `dockerd --bridge=none --iptables=false`:
# every build and container uses host networking, so no bridge network is needed or made. Also Docker
# Compose v2 >= 2.24 (`!reset`), BuildKit (the buildx plugin, or a client with it built in), python3,
# and for the base root and debootstrap. Free ports 6379, 5000 and 8080 on 127.0.0.1 for `stack`.
#
# Settings (environment): DEBIAN_IMAGE (nas-scaling/debian:bookworm), PYTHON_BASE
# (nas-scaling/python:3.11-bookworm), DEBIAN_MIRROR (http://deb.debian.org/debian), CA_BUNDLE (the
# host's, /etc/ssl/certs/ca-certificates.crt), TORCH_INDEX_URL (empty: PyPI's torch, with CUDA; set
# https://download.pytorch.org/whl/cpu for CPU wheels where that is reachable), CHECK_PROJECT (compose
# project, nas-scaling-check), CHECK_LOGS (where build and run logs go; default a new temp folder).
# Where the host's pip takes packages from local file indexes (`pip config list`), they are served on
# 127.0.0.1 for the build and passed as PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / PIP_CONSTRAINT.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_IMAGE=${DEBIAN_IMAGE:-nas-scaling/debian:bookworm}
PYTHON_BASE=${PYTHON_BASE:-nas-scaling/python:3.11-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-}
CHECK_PROJECT=${CHECK_PROJECT:-nas-scaling-check}
IMAGE=nas-scaling:local                      # compose.yaml's image
PORTS=(6379 5000 8080)                       # Ray's GCS, MLflow, optuna-dashboard (compose.yaml's)
DEBIAN_PACKAGES=python3,python3-venv,ca-certificates,passwd,util-linux,procps

steps=("$@")
((${#steps[@]})) || steps=(base build grid stack)
for step in "${steps[@]}"; do
    case $step in
        base | build | grid | stack) ;;
        *) echo "usage: $0 [base|build|grid|stack]..." >&2; exit 2 ;;
    esac
done

CHECK_LOGS=${CHECK_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/nas-scaling-check.XXXXXX")}
mkdir -p "$CHECK_LOGS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nas-scaling-check-work.XXXXXX")
SERVER_PID=""
COMPOSE=(docker compose -p "$CHECK_PROJECT" --env-file "$WORK/compose.env"
         -f docker/compose.yaml -f docker/compose.check.yaml --profile run)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "FAILED: $*" >&2; exit 1; }
tail_of() { echo "--- last lines of $1:" >&2; tail -n "${2:-40}" "$1" >&2; }

cleanup() {
    local status=$?
    if [[ -f "$WORK/stack-up" ]]; then
        log "tearing the stack down"
        "${COMPOSE[@]}" down --volumes --remove-orphans --timeout 30 >"$CHECK_LOGS/down.log" 2>&1 \
            || tail_of "$CHECK_LOGS/down.log"
    fi
    docker rm -f "$CHECK_PROJECT-grid" >/dev/null 2>&1 || true
    [[ -z "$SERVER_PID" ]] || kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
    ((status == 0)) || log "logs are in $CHECK_LOGS" >&2
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

seconds_since() { echo $(($(date +%s) - $1)); }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

port_taken() {  # port_taken PORT: something listens on 127.0.0.1:PORT
    python3 -c 'import socket, sys; s = socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
    local deadline=$(($(date +%s) + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < deadline)) || die "$what: not within the time allowed"
        sleep 2
    done
}

preflight() {
    docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info)"
    log "docker: client $(docker version --format '{{.Client.Version}}'), engine $(docker version --format '{{.Server.Version}}')"
    if docker buildx version >/dev/null 2>&1; then
        log "buildx: $(docker buildx version | head -n 1)"
    else
        export DOCKER_BUILDKIT=1  # a client with BuildKit built in; docker/Dockerfile.dockerignore needs it
    fi
    command -v python3 >/dev/null || die "python3 is needed on the host"
    log "logs: $CHECK_LOGS"
}

# --- base ---------------------------------------------------------------------------------------------

debian_base() {
    if docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then
        log "base: $DEBIAN_IMAGE exists ($(docker image inspect -f '{{.Created}}' "$DEBIAN_IMAGE"))"
        return
    fi
    ((EUID == 0)) || die "making $DEBIAN_IMAGE with debootstrap needs root"
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    local rootfs start
    rootfs=$(mktemp -d /var/tmp/nas-scaling-rootfs.XXXXXX)
    start=$(date +%s)
    log "base: debootstrap --variant=minbase bookworm ($DEBIAN_PACKAGES) from $DEBIAN_MIRROR"
    if ! debootstrap --variant=minbase --include="$DEBIAN_PACKAGES" bookworm "$rootfs" "$DEBIAN_MIRROR" \
            >"$CHECK_LOGS/debootstrap.log" 2>&1; then
        tail_of "$CHECK_LOGS/debootstrap.log"
        rm -rf "$rootfs"
        die "debootstrap"
    fi
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
    rm -rf "$rootfs"
    log "base: imported $DEBIAN_IMAGE in $(seconds_since "$start") s," \
        "$(docker image inspect -f '{{.Size}}' "$DEBIAN_IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')"
}

python_base() {
    local ctx=$WORK/python-base
    mkdir -p "$ctx"
    {
        echo "FROM $DEBIAN_IMAGE"
        if [[ -f "$CA_BUNDLE" ]]; then
            cp "$CA_BUNDLE" "$ctx/host-ca-certificates.crt"
            echo "COPY host-ca-certificates.crt /etc/ssl/certs/host-ca-certificates.crt"
            echo "ENV SSL_CERT_FILE=/etc/ssl/certs/host-ca-certificates.crt \\"
            echo "    REQUESTS_CA_BUNDLE=/etc/ssl/certs/host-ca-certificates.crt \\"
            echo "    PIP_CERT=/etc/ssl/certs/host-ca-certificates.crt"
        fi
        echo "RUN python3 -m venv /opt/venv"
        echo "ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    } >"$ctx/Dockerfile"
    if ! docker build --network host -t "$PYTHON_BASE" "$ctx" >"$CHECK_LOGS/python-base.log" 2>&1; then
        tail_of "$CHECK_LOGS/python-base.log"
        die "building $PYTHON_BASE"
    fi
    log "base: $PYTHON_BASE: $(docker run --rm --network host "$PYTHON_BASE" \
        bash -c 'echo "$(python --version), $(pip --version | cut -d" " -f1-2), $(. /etc/os-release; echo "$PRETTY_NAME")"')"
}

step_base() { debian_base; python_base; }

# --- build --------------------------------------------------------------------------------------------

serve_pip_indexes() {  # sets PIP_BUILD_ARGS: the host pip's local indexes, served on 127.0.0.1
    PIP_BUILD_ARGS=()
    local port=${PIP_SERVER_PORT:-8731} settings line  # a fixed port: the URLs are build arguments, and
    ! port_taken "$port" || port=$(free_port)          # changed ones make the build reinstall everything
    mkdir -p "$WORK/pip"
    settings=$(python3 docker/check.py pip-indexes "$WORK/pip" "http://127.0.0.1:$port")
    [[ -n "$settings" ]] || return 0
    python3 -m http.server --bind 127.0.0.1 --directory "$WORK/pip" "$port" >"$CHECK_LOGS/pip-server.log" 2>&1 &
    SERVER_PID=$!
    wait_for 30 "the pip index server on 127.0.0.1:$port" port_taken "$port"
    local link
    for link in "$WORK"/pip/*; do
        log "build: serving $(readlink "$link") at http://127.0.0.1:$port/${link##*/}"
    done
    while IFS= read -r line; do
        log "build: the host's pip setting $line"
        PIP_BUILD_ARGS+=(--build-arg "$line")
    done <<<"$settings"
}

step_build() {
    docker image inspect "$PYTHON_BASE" >/dev/null 2>&1 || die "no $PYTHON_BASE: run the base step first"
    serve_pip_indexes
    local start
    start=$(date +%s)
    log "build: docker build --network host -f docker/Dockerfile --build-arg BASE=$PYTHON_BASE" \
        "--build-arg TORCH_INDEX_URL=$TORCH_INDEX_URL -t $IMAGE ."
    if ! docker build --network host --progress plain -f docker/Dockerfile \
            --build-arg "BASE=$PYTHON_BASE" --build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL" \
            "${PIP_BUILD_ARGS[@]}" -t "$IMAGE" . >"$CHECK_LOGS/build.log" 2>&1; then
        tail_of "$CHECK_LOGS/build.log" 60
        die "docker build"
    fi
    BUILD_SECONDS=$(seconds_since "$start")
    [[ -z "$SERVER_PID" ]] || { kill "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }
    log "build: $IMAGE built in $BUILD_SECONDS s; build context $(grep -o 'transferring context: [0-9.]* *[kMG]*B' \
        "$CHECK_LOGS/build.log" | tail -n 1 | cut -d: -f2 | xargs)"
    log "build: image size $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.2f GB", $1 / 1e9}')"
    log "build: in the image: $(docker run --rm --network host "$IMAGE" python -c '
from importlib.metadata import version
print(", ".join(f"{n} {version(n)}" for n in ("nas-scaling", "torch", "torchvision", "ray", "optuna", "mlflow", "optuna-dashboard")))')"
}

# --- grid ---------------------------------------------------------------------------------------------

step_grid() {
    docker image inspect "$IMAGE" >/dev/null 2>&1 || die "no $IMAGE: run the build step first"
    local name=$CHECK_PROJECT-grid start status
    docker rm -f "$name" >/dev/null 2>&1 || true
    start=$(date +%s)
    log "grid: docker run --network host $IMAGE nas-scaling grid --budget 2xFLOPS --no-progress"
    set +e
    docker run --name "$name" --network host --init --shm-size 10g "$IMAGE" \
        nas-scaling grid --budget 2xFLOPS --no-progress 2>"$CHECK_LOGS/grid.stderr" | tee "$CHECK_LOGS/grid.log"
    status=${PIPESTATUS[0]}
    set -e
    ((status == 0)) || { tail_of "$CHECK_LOGS/grid.stderr"; die "the grid exited with $status"; }
    log "grid: finished in $(seconds_since "$start") s"
    docker cp "$name:/workspace/runs" "$WORK/grid-runs" >/dev/null
    docker rm "$name" >/dev/null
    local result
    result=$(find "$WORK/grid-runs" -name grid.json | head -n 1)
    [[ -n "$result" ]] || die "the grid wrote no grid.json"
    python3 docker/check.py grid-result "$result" || die "the grid's result"
}

# --- stack --------------------------------------------------------------------------------------------

node_id() {  # node_id SERVICE: the Ray node id of the raylet running in SERVICE's container
    "${COMPOSE[@]}" exec -T "$1" python -c \
        'from ray._private.services import find_node_ids; print(*find_node_ids())'
}

worker_joined() { [[ -n "$(node_id ray-worker 2>/dev/null)" ]]; }

# Every node the cluster has seen, as "id alive CPUs" lines, asked by a driver on the head.
NODES_PY='
import logging, ray
ray.init(address="auto", logging_level=logging.ERROR, log_to_driver=False)
for n in ray.nodes():
    print(n["NodeID"], "alive" if n["Alive"] else "dead", n["Resources"].get("CPU", 0))'

step_stack() {
    docker image inspect "$IMAGE" >/dev/null 2>&1 || die "no $IMAGE: run the build step first"
    docker compose version >/dev/null 2>&1 || die "Docker Compose v2 is needed (docker compose version)"
    log "stack: $(docker compose version)"
    local port
    for port in "${PORTS[@]}"; do
        ! port_taken "$port" || die "port $port on 127.0.0.1 is taken; the stack uses host networking and needs it"
    done
    local mask
    mask=$(umask)
    umask 077
    {
        echo "RAY_AUTH_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
        echo "RAY_WORKER_CPUS=$(nproc)"
        echo "NAS_BASE_IMAGE=$PYTHON_BASE"
    } >"$WORK/compose.env"
    umask "$mask"
    local start
    start=$(date +%s)
    touch "$WORK/stack-up"
    log "stack: up mlflow, optuna-dashboard, ray-head, ray-worker (project $CHECK_PROJECT)"
    if ! "${COMPOSE[@]}" up --detach --pull never --no-build --wait --wait-timeout 300 \
            mlflow optuna-dashboard ray-head ray-worker >"$CHECK_LOGS/up.log" 2>&1; then
        tail_of "$CHECK_LOGS/up.log"
        "${COMPOSE[@]}" logs --no-color >"$CHECK_LOGS/services.log" 2>&1 || true
        die "compose up"
    fi
    log "stack: up in $(seconds_since "$start") s: $("${COMPOSE[@]}" ps --format '{{.Service}} ({{.Status}})' | paste -sd, | sed 's/,/, /g')"
    local networks
    networks=$(docker network ls --filter driver=bridge --format '{{.Name}}' | paste -sd, )
    log "stack: bridge networks on the engine: ${networks:-none}"
    wait_for 120 "the ray-worker's Ray node" worker_joined
    local head_node worker_node
    head_node=$(node_id ray-head)
    worker_node=$(node_id ray-worker)
    log "stack: Ray nodes: ray-head $head_node, ray-worker $worker_node"

    start=$(date +%s)
    log "stack: compose run runner (grid --budget 2xFLOPS --address ray-head:6379 --gpus-per-trial 0)"
    local status
    set +e  # MLflow's links to each run it logs are left in the log only
    "${COMPOSE[@]}" run --rm -T runner 2>"$CHECK_LOGS/runner.stderr" | tee "$CHECK_LOGS/runner.log" \
        | grep -v -E ' View (run|experiment) .*at: http'
    status=${PIPESTATUS[0]}
    set -e
    if ((status != 0)); then
        tail_of "$CHECK_LOGS/runner.stderr"
        "${COMPOSE[@]}" logs --no-color >"$CHECK_LOGS/services.log" 2>&1 || true
        die "the runner exited with $status"
    fi
    log "stack: the runner finished in $(seconds_since "$start") s"
    local study
    study=$(sed -n "s/^Grid study '\([^']*\)'.*/\1/p" "$CHECK_LOGS/runner.log" | head -n 1)
    [[ -n "$study" ]] || die "no 'Grid study' line in the runner's output"
    log "stack: ray status on the head after the run:"
    "${COMPOSE[@]}" exec -T ray-head ray status 2>/dev/null | sed -n '/Node status/,/Demands/p' | sed 's/^/    /'
    local nodes line others=()
    nodes=$("${COMPOSE[@]}" exec -T ray-head python -c "$NODES_PY" 2>>"$CHECK_LOGS/nodes.stderr") \
        || { tail_of "$CHECK_LOGS/nodes.stderr"; die "listing the cluster's nodes"; }
    log "stack: the nodes the cluster has seen (id, state, CPUs); the one not named above was the runner's:"
    while IFS= read -r line; do printf '    %s\n' "$line"; done <<<"$nodes"
    while read -r id _; do
        [[ "$id" == "$worker_node" ]] || others+=(--other-node "$id")
    done <<<"$nodes"
    python3 docker/check.py stack --mlflow http://127.0.0.1:5000 --dashboard http://127.0.0.1:8080 \
        --study "$study" --worker-node "$worker_node" "${others[@]}" || die "the stack's records"
    "${COMPOSE[@]}" logs --no-color >"$CHECK_LOGS/services.log" 2>&1 || true
    local restarts containers
    mapfile -t containers < <("${COMPOSE[@]}" ps -q)
    restarts=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}={{.RestartCount}}' \
        "${containers[@]}" | sort | paste -sd' ')
    log "stack: restarts: $restarts"
    [[ ! "$restarts" =~ =[1-9] ]] || die "a service restarted (see $CHECK_LOGS/services.log)"
    log "stack: down"
    "${COMPOSE[@]}" down --volumes --remove-orphans --timeout 30 >"$CHECK_LOGS/down.log" 2>&1 \
        || { tail_of "$CHECK_LOGS/down.log"; die "compose down"; }
    rm -f "$WORK/stack-up"
    log "stack: left behind: containers $(docker ps -aq --filter "label=com.docker.compose.project=$CHECK_PROJECT" | wc -l)," \
        "volumes $(docker volume ls -q --filter "label=com.docker.compose.project=$CHECK_PROJECT" | wc -l)"
}

# --- main ---------------------------------------------------------------------------------------------

preflight
started=$(date +%s)
for step in "${steps[@]}"; do
    log "=== $step"
    "step_$step"
done
log "=== check passed: ${steps[*]} in $(seconds_since "$started") s"
