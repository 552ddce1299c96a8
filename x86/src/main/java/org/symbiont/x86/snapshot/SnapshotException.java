package org.symbiont.x86.snapshot;

import java.io.IOException;

/**
 * A snapshot that cannot be read: truncated, not a snapshot, of an unknown format version, with a
 * checksum mismatch, with a section missing, unknown or malformed, or one that does not fit the
 * machine it is restored into. The message names what is wrong and where.
 */
public final class SnapshotException extends IOException {
    public SnapshotException(String message) {
        super(message);
    }
}
