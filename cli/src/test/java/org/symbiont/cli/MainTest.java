package org.symbiont.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

class MainTest {
    private static String err(Runnable r) {
        PrintStream old = System.err;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        System.setErr(new PrintStream(b, true));
        try {
            r.run();
        } finally {
            System.setErr(old);
        }
        return b.toString();
    }

    @Test
    void userMistakesGiveAMessageAndExitCode2WithoutAStackTrace() {
        int[] code = new int[1];
        String out = err(() -> code[0] = Main.execute("bench", "gpu"));
        assertEquals(2, code[0]);
        assertTrue(out.contains("symbiont: unknown benchmark 'gpu'"), out);
        assertFalse(out.contains("at org."), out);
        out = err(() -> code[0] = Main.execute("demo", "--n", "1"));
        assertEquals(2, code[0]);
        assertTrue(out.contains("--n must be between"), out);
    }

    @Test
    void unknownOptionsAreRejectedByThePicocliParser() {
        int[] code = new int[1];
        String out = err(() -> code[0] = Main.execute("demo", "--frobnicate"));
        assertEquals(2, code[0]);
        assertTrue(out.contains("Unknown option"), out);
    }
}
