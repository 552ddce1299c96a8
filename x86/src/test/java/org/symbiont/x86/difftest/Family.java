package org.symbiont.x86.difftest;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The instruction families the generator covers; a case is attributed to one family. */
enum Family {
    ALU, UNARY, SHIFT, ROTATE, SHIFTD, MULDIV, BITTEST, BITSCAN, BSWAP, MOVX, CMOV, SETCC, MOV, LEA,
    XCHG, ATOMIC, CONVERT, FLAGS, LAHF, MOVBE,
    BRANCH, LOOP, CALL, STACK, ENTER, STRING,
    SSE_ARITH, SSE_CMP, SSE_CVT, SSE_MOVE, SSE_LOGIC, SSE_SHUFFLE, SSE_INT;

    /** The name used in properties and reports: lower case with '-' (e.g. {@code sse-arith}). */
    String id() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Parses a comma-separated list of family ids; "all" (or empty) means every family. */
    static List<Family> parse(String spec) {
        List<Family> out = new ArrayList<>();
        if (spec == null || spec.isBlank() || spec.trim().equals("all")) return List.of(values());
        for (String s : spec.split(",")) {
            String id = s.trim();
            if (id.isEmpty()) continue;
            Family found = null;
            for (Family f : values()) if (f.id().equals(id)) found = f;
            if (found == null) throw new IllegalArgumentException("unknown difftest family '" + id + "'; known: " + allIds());
            if (!out.contains(found)) out.add(found);
        }
        return out;
    }

    static String allIds() {
        StringBuilder sb = new StringBuilder();
        for (Family f : values()) sb.append(sb.isEmpty() ? "" : ",").append(f.id());
        return sb.toString();
    }
}
