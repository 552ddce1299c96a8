package org.symbiont.vmm;

import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.symbiont.devices.CharBackend;

/** The character back ends a VM's serial ports and consoles can use. */
public final class CharBackends {
    private CharBackends() {}

    /** Discards output, has no input. */
    public static final CharBackend NULL = new CharBackend() {
        @Override public void write(int b) { }
        @Override public int read() { return END_OF_INPUT; }
    };

    /** Writes to a stream (flushed at line ends), has no input. */
    public static CharBackend output(OutputStream out) {
        return new CharBackend() {
            @Override
            public void write(int b) {
                try {
                    out.write(b);
                    if (b == '\n') out.flush();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }

            @Override public int read() { return END_OF_INPUT; }

            @Override
            public void flush() {
                try {
                    out.flush();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        };
    }

    /** The process's standard output; input from standard input as it arrives, until it ends. */
    public static CharBackend stdio(PrintStream out) {
        CharBackend w = output(out);
        return new CharBackend() {
            @Override public void write(int b) { w.write(b); }
            @Override public void flush() { w.flush(); }
            @Override public int read() { return StandardInput.read(); }
        };
    }

    /**
     * Standard input, read by a daemon thread of its own (a read would block the VM's thread)
     * from the first time a guest looks for input.
     */
    private static final class StandardInput {
        private static final java.util.concurrent.ConcurrentLinkedQueue<Integer> bytes = new java.util.concurrent.ConcurrentLinkedQueue<>();
        private static volatile boolean ended;

        static {
            Thread reader = new Thread(() -> {
                try {
                    for (int b; (b = System.in.read()) >= 0; ) bytes.add(b);
                } catch (IOException e) {
                    // An unreadable standard input ends like an empty one.
                }
                ended = true;
            }, "symbiont-stdin");
            reader.setDaemon(true);
            reader.start();
        }

        static int read() {
            boolean over = ended; // read before the queue: a byte queued before the end is never lost
            Integer b = bytes.poll();
            return b != null ? b : over ? CharBackend.END_OF_INPUT : CharBackend.NOTHING_YET;
        }
    }

    /**
     * A back end from its specification: {@code stdio}, {@code null}, {@code file:PATH}
     * (created or truncated).
     */
    public static CharBackend open(String spec) {
        if (spec.equals("stdio")) return stdio(System.out);
        if (spec.equals("null")) return NULL;
        if (spec.startsWith("file:")) {
            Path p = Path.of(spec.substring(5));
            try {
                return output(new FileOutputStream(p.toFile()));
            } catch (IOException e) {
                throw new org.symbiont.vmm.config.VmConfigException("cannot open " + p + " for output: " + e.getMessage());
            }
        }
        throw new org.symbiont.vmm.config.VmConfigException("character device \"" + spec + "\": expected stdio, null or file:PATH");
    }

    /**
     * {@code output} with its input replaced by the bytes of {@code input}, read as the guest asks
     * for them (then none: a file ends).
     */
    public static CharBackend withInput(CharBackend output, Path input) {
        java.io.InputStream in;
        try {
            in = new java.io.BufferedInputStream(java.nio.file.Files.newInputStream(input));
        } catch (IOException e) {
            throw new org.symbiont.vmm.config.VmConfigException("cannot open " + input + " for the console's input: " + e.getMessage());
        }
        return new CharBackend() {
            @Override public void write(int b) { output.write(b); }
            @Override public void flush() { output.flush(); }

            @Override
            public int read() {
                try {
                    int b = in.read();
                    return b >= 0 ? b : END_OF_INPUT;
                } catch (IOException e) {
                    return END_OF_INPUT;
                }
            }
        };
    }

    /** Keeps everything written, for the demo's per-guest output and for tests. */
    public static final class Capture implements CharBackend {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override public synchronized void write(int b) { bytes.write(b); }
        @Override public int read() { return END_OF_INPUT; }

        public synchronized String text() {
            return bytes.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
        }
    }
}
