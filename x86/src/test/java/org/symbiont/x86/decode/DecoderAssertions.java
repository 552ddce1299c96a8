package org.symbiont.x86.decode;

import java.util.ArrayList;
import java.util.List;

/** Field-by-field comparison of decoded instructions, for the decoder tests. */
final class DecoderAssertions {
    private DecoderAssertions() {}

    /**
     * The fields in which two decodings differ (their addresses and lengths aside), or null when
     * they describe the same instruction.
     */
    static String difference(Insn a, Insn b) {
        return difference(a, b, false);
    }

    /** As {@link #difference(Insn, Insn)}, optionally ignoring the operation and the opcode byte. */
    static String difference(Insn a, Insn b, boolean ignoreOpcode) {
        List<String> d = new ArrayList<>();
        if (a.op != b.op && !ignoreOpcode) d.add(String.format("op %04x/%04x", a.op, b.op));
        if (a.opcode != b.opcode && !ignoreOpcode) d.add(String.format("opcode %03x/%03x", a.opcode, b.opcode));
        if (a.opSize != b.opSize) d.add("opSize " + a.opSize + "/" + b.opSize);
        if (a.addrSize != b.addrSize) d.add("addrSize " + a.addrSize + "/" + b.addrSize);
        if (a.eaMask != b.eaMask) d.add(String.format("eaMask %x/%x", a.eaMask, b.eaMask));
        if (a.reg != b.reg) d.add("reg " + a.reg + "/" + b.reg);
        if (a.rm != b.rm) d.add("rm " + a.rm + "/" + b.rm);
        if (a.base != b.base) d.add("base " + a.base + "/" + b.base);
        if (a.index != b.index) d.add("index " + a.index + "/" + b.index);
        if (a.scale != b.scale) d.add("scale " + a.scale + "/" + b.scale);
        if (a.disp != b.disp) d.add(String.format("disp %x/%x", a.disp, b.disp));
        if (a.seg != b.seg) d.add("seg " + a.seg + "/" + b.seg);
        if (a.imm != b.imm) d.add(String.format("imm %x/%x", a.imm, b.imm));
        if (a.imm2 != b.imm2) d.add(String.format("imm2 %x/%x", a.imm2, b.imm2));
        if (a.modrm != b.modrm) d.add(String.format("modrm %x/%x", a.modrm, b.modrm));
        if (a.prefixes != b.prefixes) d.add(String.format("prefixes %x/%x", a.prefixes, b.prefixes));
        if (a.nextRip != b.nextRip) d.add(String.format("nextRip %x/%x", a.nextRip, b.nextRip));
        return d.isEmpty() ? null : String.join(", ", d);
    }
}
