package org.symbiont.x86.decode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs GNU objdump over a flat binary ({@code objdump -D -z -b binary}, all bytes of an
 * instruction on one line) and parses its listing into address, bytes and text.
 */
final class Objdump {
    private Objdump() {}

    /** One line of objdump's listing: one instruction (or one run of prefixes, or "(bad)"). */
    record Line(long address, byte[] bytes, String text) {
        int length() {
            return bytes.length;
        }

        /** objdump knows no instruction here, or the code ends within one (".byte"). */
        boolean bad() {
            return text.contains("(bad)") || text.startsWith(".byte");
        }

        /**
         * A line holding only prefixes: objdump prints prefixes it considers unused (a REX byte
         * that is not the last prefix, a run of 14 operand-size prefixes...) as a line of their
         * own and decodes the instruction after them on the next line.
         */
        boolean prefixesOnly(int mode) {
            return Objdump.prefixesOnly(this, -1, mode);
        }

        /** The mnemonic: the first word of the text that is not a prefix name. */
        String mnemonic() {
            for (String w : text.split("\\s+")) {
                if (!w.isEmpty() && !PREFIX_NAME.matcher(w).matches()) return w;
            }
            return text;
        }

        String hex() {
            return Objdump.hex(bytes, 0, bytes.length);
        }

        @Override
        public String toString() {
            return String.format("%x: %s\t%s", address, hex(), text);
        }
    }

    /** The names objdump prints for prefixes (and for an FWAIT it scanned as one). */
    private static final Pattern PREFIX_NAME = Pattern.compile(
            "data16|data32|addr16|addr32|rex(\\.[WRXB]+)?|lock|rep|repz|repnz|repe|repne|[cdefgs]s|bnd|notrack"
                    + "|xacquire|xrelease|fwait");
    private static final Pattern PREFIX_NAMES = Pattern.compile("((" + PREFIX_NAME.pattern() + ")\\s*)+");
    private static final Pattern LINE = Pattern.compile("^\\s*([0-9a-f]+):\\t([0-9a-f]{2}(?: [0-9a-f]{2})*)\\s*(?:\\t(.*))?$");

    private static Boolean available;

    /** Whether a GNU objdump that knows the x86 machines is installed (one that disassembles a NOP). */
    static synchronized boolean available() {
        if (available == null) {
            available = false;
            try {
                Path dir = Files.createTempDirectory("symbiont-objdump-probe");
                Path nop = dir.resolve("nop.bin");
                try {
                    Files.write(nop, new byte[] {(byte) 0x90});
                    for (int mode : new int[] {Decoder.CODE64, Decoder.CODE32, Decoder.CODE16}) {
                        available = disassemble(nop, mode, 0).stream().anyMatch(l -> l.text().equals("nop"));
                        if (!available) break;
                    }
                } finally {
                    Files.deleteIfExists(nop);
                    Files.deleteIfExists(dir);
                }
            } catch (IOException | IllegalStateException e) {
                available = false;
            }
            if (!available) System.out.println("SKIPPED: GNU objdump not found; decoder lengths are not compared with it");
        }
        return available;
    }

    /**
     * Whether {@code line}'s bytes are prefixes, except the byte at address {@code exempt} (an
     * FWAIT objdump scans as a prefix; -1 for none), and its text names only prefixes.
     */
    static boolean prefixesOnly(Line line, long exempt, int mode) {
        for (int i = 0; i < line.bytes.length; i++) {
            if (line.address + i != exempt && !isPrefixByte(line.bytes[i] & 0xFF, mode)) return false;
        }
        return PREFIX_NAMES.matcher(line.text.trim()).matches();
    }

    static boolean isPrefixByte(int b, int mode) {
        return switch (b) {
            case 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3 -> true;
            default -> mode == Decoder.CODE64 && (b & 0xF0) == 0x40;
        };
    }

    static String machine(int mode) {
        return switch (mode) {
            case Decoder.CODE64 -> "i386:x86-64";
            case Decoder.CODE32 -> "i386";
            default -> "i8086";
        };
    }

    static String modeName(int mode) {
        return switch (mode) {
            case Decoder.CODE64 -> "CODE64";
            case Decoder.CODE32 -> "CODE32";
            default -> "CODE16";
        };
    }

    /** Disassembles {@code file} in {@code mode} from offset {@code start} to its end. */
    static List<Line> disassemble(Path file, int mode, long start) {
        try {
            Path err = Files.createTempFile(file.getParent(), "objdump", ".err");
            try {
                Process p = new ProcessBuilder("objdump", "-D", "-z", "--insn-width=15", "-b", "binary",
                        "-m" + machine(mode), "--start-address=" + start, file.toString())
                        .redirectError(err.toFile())
                        .start();
                p.getOutputStream().close();
                List<Line> lines = parse(new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII));
                if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    throw new IllegalStateException("objdump failed: " + Files.readString(err));
                }
                return lines;
            } finally {
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new IllegalStateException("running objdump: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static List<Line> parse(String listing) {
        List<Line> lines = new ArrayList<>();
        HexFormat hexFormat = HexFormat.ofDelimiter(" ");
        for (String s : listing.split("\n")) {
            Matcher m = LINE.matcher(s);
            if (!m.matches()) continue;
            long address = Long.parseLong(m.group(1), 16);
            byte[] bytes = hexFormat.parseHex(m.group(2));
            String text = m.group(3);
            if (text == null && !lines.isEmpty()) {
                // Continuation of the previous instruction's bytes (only when wider than --insn-width).
                Line prev = lines.removeLast();
                byte[] all = new byte[prev.bytes.length + bytes.length];
                System.arraycopy(prev.bytes, 0, all, 0, prev.bytes.length);
                System.arraycopy(bytes, 0, all, prev.bytes.length, bytes.length);
                lines.add(new Line(prev.address, all, prev.text));
            } else {
                lines.add(new Line(address, bytes, text == null ? "" : text.strip()));
            }
        }
        return lines;
    }

    static String hex(byte[] b, int from, int to) {
        return HexFormat.ofDelimiter(" ").formatHex(b, from, to);
    }
}
