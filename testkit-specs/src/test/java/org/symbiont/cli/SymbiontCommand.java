package org.symbiont.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

/** Runs a {@code symbiont} command line in this JVM as a user runs it ({@link Main#execute}), keeping what it printed. */
public final class SymbiontCommand {
    public record Result(int status, String out, String err) {}

    private SymbiontCommand() {}

    public static synchronized Result run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        try {
            int status = Main.execute(args);
            return new Result(status, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
