package org.symbiont.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

/** {@code symbiont ARGS} run in this JVM as a user runs it: its exit status, standard output and standard error. */
record CommandRun(int status, String out, String err) {
    /** One at a time: standard output and error are the JVM's. */
    static synchronized CommandRun of(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        try {
            return new CommandRun(Main.execute(args), out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
