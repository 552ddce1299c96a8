#!/bin/bash
# Runs workloads natively and in a VM and compares the exact part of their RESULT lines (the
# fields before " | "); exits 1 if any differs or fails.
#
#   user/compare.sh OUT sym|qemu [-m MiB] [--disk FILE] ["PROGRAM key=value ..." ...]
#
# OUT is the Makefile's output directory (lwk.bin and native/ built). Without runs given, each
# workload runs with its defaults (ctxsw with procs=2). Symbiont is /work/tools/sym unless SYM
# names another launcher.
set -u
out=$1 vmm=$2
shift 2
mem=128 disk=
while [ $# -gt 0 ]; do
    case $1 in
    -m) mem=$2; shift 2 ;;
    --disk) disk=$2; shift 2 ;;
    *) break ;;
    esac
done
runs=("$@")
[ ${#runs[@]} -eq 0 ] && runs=(hello stream gups sieve hpccg memperf "ctxsw procs=2" allreduce)

guest() {
    case $vmm in
    sym) ${SYM:-/work/tools/sym} run -q --kernel "$out/lwk.bin" --append "$1" -m "$mem" --timeout 600 \
            ${disk:+--disk "$disk"} ;;
    qemu) qemu-system-x86_64 -machine pc -accel tcg -m "$mem" -display none -serial stdio -no-reboot \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$out/lwk.bin" -append "$1" \
            ${disk:+-drive file="$disk",format=raw,if=virtio} ;;
    *) echo "compare.sh: the VMM is sym or qemu, not $vmm" >&2; exit 2 ;;
    esac
}

exact() { grep '^RESULT ' | sed 's/ | .*//'; }

failed=0
for run in "${runs[@]}"; do
    read -r prog args <<<"$run"
    native=$("$out/native/$prog" $args | exact)
    vm=$(guest "$run" | tr -d '\r' | exact)
    if [ -n "$native" ] && [ "$native" == "$vm" ] && [[ $native == *" ok=1"* ]]; then
        echo "same   $native"
    else
        echo "DIFF   $run"
        echo "  native: $native"
        echo "  $vmm: $vm"
        failed=1
    fi
done
exit $failed
