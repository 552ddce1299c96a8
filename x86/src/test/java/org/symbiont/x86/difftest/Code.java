package org.symbiont.x86.difftest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A growing sequence of machine code with labels and fixups. The sequence is placed so that it
 * ends at {@link Layout#CODE_END}, so its address is known only when it is complete:
 * {@link #finish()} resolves branch displacements (relative, placement independent) and
 * RIP-relative references to absolute addresses (which depend on placement).
 */
final class Code {
    /** A position in the code, bound once. */
    static final class Label {
        int offset = -1;
        /** Status flags that may be undefined on some path jumping here (static tracking). */
        int undefinedOnArrival;
    }

    /** Thrown when a sequence cannot be encoded (a rel8 out of range); the generator retries. */
    static final class Unencodable extends RuntimeException {
        Unencodable(String why) {
            super(why, null, false, false);
        }
    }

    private record Fixup(int at, int size, int insnEnd, Label label, long absolute) {}

    private byte[] bytes = new byte[256];
    private int length;
    private final List<Fixup> fixups = new ArrayList<>();

    int length() {
        return length;
    }

    void byte1(int b) {
        if (length == bytes.length) bytes = Arrays.copyOf(bytes, length * 2);
        bytes[length++] = (byte) b;
    }

    void bytes(long v, int n) {
        for (int k = 0; k < n; k++) byte1((int) (v >>> (8 * k)));
    }

    void bind(Label l) {
        if (l.offset >= 0) throw new IllegalStateException("label bound twice");
        l.offset = length;
    }

    /** A displacement field of {@code size} bytes at {@code at}, relative to {@code insnEnd}, towards {@code l}. */
    void relative(int at, int size, int insnEnd, Label l) {
        fixups.add(new Fixup(at, size, insnEnd, l, 0));
    }

    /** A RIP-relative disp32 at {@code at} that must reach the absolute address {@code target}. */
    void ripToAbsolute(int at, int insnEnd, long target) {
        fixups.add(new Fixup(at, 4, insnEnd, null, target));
    }

    long address() {
        return Layout.CODE_END - length;
    }

    byte[] finish() {
        long base = address();
        for (Fixup f : fixups) {
            long disp;
            if (f.label != null) {
                if (f.label.offset < 0) throw new IllegalStateException("unbound label");
                disp = f.label.offset - f.insnEnd;
            } else {
                disp = f.absolute - (base + f.insnEnd);
            }
            long min = f.size == 1 ? Byte.MIN_VALUE : Integer.MIN_VALUE, max = f.size == 1 ? Byte.MAX_VALUE : Integer.MAX_VALUE;
            if (disp < min || disp > max) throw new Unencodable("displacement " + disp + " does not fit in " + f.size + " byte(s)");
            for (int k = 0; k < f.size; k++) bytes[f.at + k] = (byte) (disp >>> (8 * k));
        }
        return Arrays.copyOf(bytes, length);
    }
}
