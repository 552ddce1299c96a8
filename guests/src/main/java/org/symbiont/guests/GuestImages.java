package org.symbiont.guests;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** The guest images built by this module, packaged as resources. */
public final class GuestImages {
    private GuestImages() {}

    /**
     * The CPU benchmark guest: a multiboot v1 image (flat, with load addresses in its header)
     * taking "intloop|sieve|triad [n=N] [rounds=R]" on its command line.
     */
    public static byte[] cpubench() {
        return resource("cpubench.bin");
    }

    /**
     * The native twin of the CPU benchmark, built from the same workload object file, extracted to
     * a temporary executable: "cpubench-native WORKLOAD [N] [ROUNDS]".
     */
    public static Path cpubenchNative() {
        try {
            Path p = Files.createTempFile("cpubench-native", "");
            Files.write(p, resource("cpubench-native"));
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
            p.toFile().deleteOnExit();
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the native benchmark", e);
        }
    }

    private static byte[] resource(String name) {
        try (InputStream in = GuestImages.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("guest image " + name + " is missing from the build");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read guest image " + name, e);
        }
    }
}
