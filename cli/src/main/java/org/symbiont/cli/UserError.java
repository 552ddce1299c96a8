package org.symbiont.cli;

/** A mistake in what the user asked for (a bad file, option or value): reported without a stack trace. */
final class UserError extends RuntimeException {
    UserError(String message) {
        super(message);
    }
}
