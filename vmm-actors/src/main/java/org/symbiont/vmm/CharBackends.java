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

    /** Discards output, never has input. */
    public static final CharBackend NULL = new CharBackend() {
        @Override public void write(int b) { }
        @Override public int read() { return -1; }
    };

    /** Writes to a stream (flushed at line ends), never has input. */
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

            @Override public int read() { return -1; }

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

    /** The process's standard output; input from standard input when bytes are waiting. */
    public static CharBackend stdio(PrintStream out) {
        CharBackend w = output(out);
        return new CharBackend() {
            @Override public void write(int b) { w.write(b); }
            @Override public void flush() { w.flush(); }

            @Override
            public int read() {
                try {
                    return System.in.available() > 0 ? System.in.read() : -1;
                } catch (IOException e) {
                    return -1;
                }
            }
        };
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
                    return in.read();
                } catch (IOException e) {
                    return -1;
                }
            }
        };
    }

    /** Keeps everything written, for the demo's per-guest output and for tests. */
    public static final class Capture implements CharBackend {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override public synchronized void write(int b) { bytes.write(b); }
        @Override public int read() { return -1; }

        public synchronized String text() {
            return bytes.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
        }
    }
}
