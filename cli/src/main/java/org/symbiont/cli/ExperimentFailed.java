package org.symbiont.cli;

/** A cluster experiment that stopped or whose nodes did not finish their workload: reported without a stack trace, exit code 1. */
final class ExperimentFailed extends RuntimeException {
    ExperimentFailed(String message) {
        super(message);
    }
}
