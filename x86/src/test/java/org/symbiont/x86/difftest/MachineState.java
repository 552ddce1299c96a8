package org.symbiont.x86.difftest;

/** The final state of one case in one world (native or emulated). */
final class MachineState {
    enum Outcome { COMPLETED, FAULT, TIMEOUT, ERROR }

    Outcome outcome;
    /** The exception vector of a fault (or -1). */
    int vector = -1;
    /** The faulting linear address of a #PF (CR2 / si_addr). */
    long faultAddress;
    /** Where execution stopped: the end of the sequence, or the faulting instruction (after it for traps). */
    long rip;
    final long[] gpr = new long[16];
    long rflags;
    int mxcsr;
    final long[] xmm = new long[32];
    byte[] data;
    /** How the outcome came about, for reports (signal and si_code, unexpected exits). */
    String detail = "";

    String outcomeText() {
        return switch (outcome) {
            case COMPLETED -> "completed";
            case FAULT -> "fault " + vectorName(vector) + (vector == 14 ? String.format(" at %#x", faultAddress) : "");
            case TIMEOUT -> "timeout";
            case ERROR -> "error";
        } + (detail.isEmpty() ? "" : " (" + detail + ")");
    }

    static String vectorName(int v) {
        return switch (v) {
            case 0 -> "#DE";
            case 1 -> "#DB";
            case 3 -> "#BP";
            case 6 -> "#UD";
            case 7 -> "#NM";
            case 12 -> "#SS";
            case 13 -> "#GP";
            case 14 -> "#PF";
            case 17 -> "#AC";
            case 19 -> "#XM";
            default -> "vector " + v;
        };
    }
}
