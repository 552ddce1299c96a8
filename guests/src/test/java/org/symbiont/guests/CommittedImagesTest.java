package org.symbiont.guests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The images in {@code guests/images} (committed, and packaged so that nothing needs a compiler)
 * are what the sources give: where the build rebuilt them into {@code target/rebuilt} (gcc
 * present) with the same compiler and linker as the committed ones name in {@code BUILT-WITH}, they
 * must be identical byte for byte ({@code make -C guests} refreshes them). With another compiler
 * the comparison is skipped with a message, and the tests that boot the rebuilt images still run.
 */
class CommittedImagesTest {
    private static final Path REBUILT = Path.of("target", "rebuilt");
    private static final Path COMMITTED = Path.of("images");
    private static String skipReason;

    @BeforeAll
    static void sameToolchain() throws Exception {
        if (!Files.isDirectory(REBUILT)) {
            skipReason = "the guest images were not rebuilt (no gcc at /usr/bin/gcc): committed images not compared with the sources";
        } else {
            List<String> builtWith = Files.readAllLines(COMMITTED.resolve("BUILT-WITH"));
            List<String> here = List.of(firstLine("gcc", "--version"), firstLine("ld", "--version"));
            if (!builtWith.equals(here)) {
                skipReason = "the committed images were built with " + builtWith + ", this machine has " + here
                        + ": not compared byte for byte";
            }
        }
        if (skipReason != null) System.err.println("SKIPPED: " + skipReason);
    }

    private static String firstLine(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out.lines().findFirst().orElse("");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpubench/cpubench.bin", "testguests/testguest.bin", "lwk/lwk.bin"})
    void theCommittedImageIsWhatTheSourcesGive(String built) throws IOException {
        assumeTrue(skipReason == null, () -> skipReason);
        Path rebuilt = REBUILT.resolve(built);
        Path committed = COMMITTED.resolve(rebuilt.getFileName());
        assertTrue(Files.exists(rebuilt), rebuilt + " was not built");
        assertArrayEquals(Files.readAllBytes(committed), Files.readAllBytes(rebuilt),
                () -> committed + " differs from what its sources build: run `make -C guests` and commit guests/images");
    }
}
