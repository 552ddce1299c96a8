package org.symbiont.vmm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.symbiont.x86.Asm;

/**
 * Small Multiboot kernels for tests: 32-bit code (GNU as, AT&T syntax) entered as a Multiboot
 * loader enters a kernel, packaged as a flat image with the header's load addresses.
 */
public final class TestKernels {
    private TestKernels() {}

    public static final long LOAD = 0x100000;
    private static final int HEADER = 32;

    /** The image for {@code source}, which starts at the entry point (EAX = 0x2BADB002, EBX = info). */
    public static byte[] image(String source) {
        byte[] code = Asm.assemble(source, 32, LOAD + HEADER);
        ByteBuffer b = ByteBuffer.allocate(HEADER + code.length).order(ByteOrder.LITTLE_ENDIAN);
        int magic = 0x1BADB002, flags = 0x00010002;
        b.putInt(magic).putInt(flags).putInt(-(magic + flags));
        b.putInt((int) LOAD).putInt((int) LOAD).putInt(0).putInt(0).putInt((int) (LOAD + HEADER));
        b.put(code);
        return b.array();
    }

    /** Writes {@link #image} to a temporary file (deleted at exit). */
    public static Path file(String source) {
        try {
            Path p = Files.createTempFile("symbiont-test-kernel", ".bin");
            p.toFile().deleteOnExit();
            Files.write(p, image(source));
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Assembly that writes the NUL-terminated string at {@code label} to the debug console 0xE9. */
    public static String print(String label) {
        return """
                    mov $%s, %%esi
                1:  lodsb
                    test %%al, %%al
                    jz 2f
                    out %%al, $0xe9
                    jmp 1b
                2:
                """.formatted(label);
    }

    /** Assembly that leaves through isa-debug-exit with {@code code}. */
    public static String exit(int code) {
        return "    mov $" + code + ", %al\n    out %al, $0xf4\n";
    }
}
