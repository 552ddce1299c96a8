package org.symbiont.x86.difftest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;

/** Disassembles a sequence for mismatch reports with GNU objdump, or shows hex where it is missing. */
final class Disassembler {
    private Disassembler() {}

    private static Boolean available;

    static synchronized String disassemble(byte[] code, long address) {
        String hex = HexFormat.ofDelimiter(" ").formatHex(code);
        if (available == Boolean.FALSE) return "    " + hex + "\n";
        try {
            Path f = Files.createTempFile("difftest-code", ".bin");
            try {
                Files.write(f, code);
                Process p = new ProcessBuilder("objdump", "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel",
                        "--adjust-vma=0x" + Long.toHexString(address), f.toString()).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes());
                if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException(out);
                available = true;
                StringBuilder sb = new StringBuilder();
                boolean body = false;
                for (String line : out.split("\n")) {
                    if (line.contains("<.data>:")) body = true;
                    else if (body && !line.isBlank()) sb.append("  ").append(line).append('\n');
                }
                return sb.toString();
            } finally {
                Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            available = false;
            return "    " + hex + "   (objdump not available)\n";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "    " + hex + "\n";
        }
    }
}
