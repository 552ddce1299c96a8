/*
 * Native side of the differential test (org.symbiont.x86.difftest.DifferentialTest): runs
 * generated x86-64 instruction sequences on the host CPU and reports the final state.
 *
 * Protocol (stdin -> stdout, little-endian, no padding). On start the harness writes the 4 bytes
 * "DTH1" once its fixed mappings are in place. Then, repeatedly (a whole batch is read before
 * any case of it runs, so the other side can write a batch without reading results meanwhile):
 *   in:  u32 count (0 ends the process), then count cases:
 *          u64 gpr[16] (ModRM order), u64 rflags, u64 xmm[32] (low, high quadword per register),
 *          u64 dataSeed, u32 mxcsr, u16 codeLength, u16 patchCount,
 *          patchCount x (u16 byteOffset, u64 value), codeLength code bytes
 *   out: count results:
 *          u8 kind (0 completed, 1 signal, 2 timeout), u8 signal, u16 diffCount, i32 si_code,
 *          u64 faultAddress, u64 rip, u64 gpr[16], u64 rflags, u32 mxcsr, u32 zero,
 *          u64 xmm[32], diffCount x (u16 quadwordIndex, u64 value)
 *        then the output is flushed.
 * The data region starts as 512 quadwords of splitmix64(dataSeed) with the patches written over
 * it; the result lists the quadwords that differ from that initial image. The code is placed so
 * that it ends at DT_CODE_END; the rest of the code page holds INT3.
 *
 * A fault inside the sequence arrives as a signal on an alternate stack; the handler records the
 * signal, si_code, si_addr and the interrupted context (GPRs, RIP, RFLAGS, MXCSR, XMM from the
 * ucontext) and siglongjmps back. A sequence still running after one second of CPU time is a
 * timeout (a virtual timer, so a loaded machine does not turn slow cases into timeouts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include "difftest.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define QWORDS (DT_DATA_SIZE / 8)

extern void dt_enter(void);
extern void dt_exit(void);

static sigjmp_buf resume;
static volatile sig_atomic_t in_case;
static volatile int got_signal, got_code;
static volatile uint64_t got_addr;
static uint64_t initial[QWORDS];

#define CTRL8(off) (*(volatile uint8_t *) (uintptr_t) (DT_CTRL + (off)))
#define CTRL32(off) (*(volatile uint32_t *) (uintptr_t) (DT_CTRL + (off)))
#define CTRL64(off) (*(volatile uint64_t *) (uintptr_t) (DT_CTRL + (off)))

static void die(const char *what) {
    fprintf(stderr, "difftest harness: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void map_fixed(unsigned long addr, size_t len, int prot) {
    void *p = mmap((void *) addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED || p != (void *) addr) {
        fprintf(stderr, "difftest harness: cannot map %#lx (+%#zx): %s\n", addr, len,
                p == MAP_FAILED ? strerror(errno) : "kernel chose another address (MAP_FIXED_NOREPLACE unsupported?)");
        exit(2);
    }
}

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Maps the ucontext's general registers to ModRM order. */
static const int greg_index[16] = {
    REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
    REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static void on_fault(int sig, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    uint64_t rip = uc->uc_mcontext.gregs[REG_RIP];
    if (!in_case) {
        if (sig == SIGVTALRM) return;
        static const char msg[] = "difftest harness: fault outside a test sequence\n";
        (void) !write(2, msg, sizeof msg - 1);
        _exit(70);
    }
    in_case = 0;
    got_signal = sig;
    got_code = sig == SIGVTALRM ? 0 : si->si_code;
    got_addr = sig == SIGVTALRM ? 0 : (uint64_t) (uintptr_t) si->si_addr;
    for (int r = 0; r < 16; r++) CTRL64(CT_OUT_GPR + 8 * r) = uc->uc_mcontext.gregs[greg_index[r]];
    CTRL64(CT_OUT_RFLAGS) = uc->uc_mcontext.gregs[REG_EFL];
    CTRL64(CT_ENTRY) = rip; /* reused as "where it stopped" */
    struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;
    CTRL32(CT_OUT_MXCSR) = fp->mxcsr;
    memcpy((void *) (uintptr_t) (DT_CTRL + CT_OUT_XMM), fp->_xmm, 256);
    siglongjmp(resume, 1);
}

static void read_exact(void *buf, size_t n) {
    if (n && fread(buf, 1, n, stdin) != n) {
        if (feof(stdin)) exit(0);
        die("reading stdin");
    }
}

static void write_all(const void *buf, size_t n) {
    if (fwrite(buf, 1, n, stdout) != n) die("writing stdout");
}

static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

#define IN_HEADER (128 + 8 + 256 + 8 + 4 + 2 + 2)
#define OUT_HEADER (1 + 1 + 2 + 4 + 8 + 8 + 128 + 8 + 4 + 4 + 256)

/* One case as read from stdin; a whole batch is read before any case runs. */
struct test_case {
    uint8_t header[IN_HEADER];
    unsigned code_len, patches;
    uint8_t *patch_bytes;
    uint8_t *code;
};

static void read_case(struct test_case *c) {
    read_exact(c->header, sizeof c->header);
    c->code_len = get16(c->header + IN_HEADER - 4);
    c->patches = get16(c->header + IN_HEADER - 2);
    if (c->code_len == 0 || c->code_len > 0x1000) {
        fprintf(stderr, "difftest harness: bad code length %u\n", c->code_len);
        exit(2);
    }
    c->patch_bytes = malloc(10 * c->patches + 1);
    c->code = malloc(c->code_len);
    if (!c->patch_bytes || !c->code) die("malloc");
    read_exact(c->patch_bytes, 10 * c->patches);
    read_exact(c->code, c->code_len);
}

static void run_case(const struct test_case *c) {
    const uint8_t *p = c->header;
    for (int r = 0; r < 16; r++, p += 8) CTRL64(CT_IN_GPR + 8 * r) = get64(p);
    CTRL64(CT_IN_RFLAGS) = get64(p); p += 8;
    memcpy((void *) (uintptr_t) (DT_CTRL + CT_IN_XMM), p, 256); p += 256;
    uint64_t seed = get64(p); p += 8;
    CTRL32(CT_IN_MXCSR) = get32(p);
    unsigned code_len = c->code_len;

    uint64_t *data = (uint64_t *) (uintptr_t) DT_DATA;
    for (int q = 0; q < QWORDS; q++) data[q] = splitmix64(&seed);
    for (unsigned k = 0; k < c->patches; k++) {
        const uint8_t *patch = c->patch_bytes + 10 * k;
        unsigned off = get16(patch);
        if (off > DT_DATA_SIZE - 8) {
            fprintf(stderr, "difftest harness: bad patch offset %u\n", off);
            exit(2);
        }
        memcpy((uint8_t *) data + off, patch + 2, 8);
    }
    memcpy(initial, data, DT_DATA_SIZE);

    uint8_t *code = (uint8_t *) (uintptr_t) (DT_CODE_END - code_len);
    memset((void *) (uintptr_t) DT_CODE_PAGE, 0xCC, 0x1000 - code_len);
    memcpy(code, c->code, code_len);
    CTRL64(CT_ENTRY) = (uint64_t) (uintptr_t) code;

    struct itimerval arm = {{0, 0}, {1, 0}}, disarm = {{0, 0}, {0, 0}};
    uint8_t kind;
    got_signal = 0;
    if (setitimer(ITIMER_VIRTUAL, &arm, NULL) != 0) die("setitimer");
    if (sigsetjmp(resume, 0) == 0) {
        in_case = 1;
        dt_enter();
        in_case = 0;
        kind = 0;
        CTRL64(CT_ENTRY) = DT_CODE_END;
    } else {
        kind = got_signal == SIGVTALRM ? 2 : 1;
        uint32_t host_mxcsr = 0x1F80;
        __asm__ volatile("ldmxcsr %0\n\tcld" : : "m"(host_mxcsr));
    }
    if (setitimer(ITIMER_VIRTUAL, &disarm, NULL) != 0) die("setitimer");

    uint16_t diffs = 0;
    for (int q = 0; q < QWORDS; q++) diffs += data[q] != initial[q];

    uint8_t out[OUT_HEADER];
    uint8_t *o = out;
    int32_t code_v = kind == 1 ? got_code : 0;
    uint64_t addr = kind == 1 ? got_addr : 0;
    *o++ = kind;
    *o++ = (uint8_t) (kind == 0 ? 0 : got_signal);
    memcpy(o, &diffs, 2); o += 2;
    memcpy(o, &code_v, 4); o += 4;
    memcpy(o, &addr, 8); o += 8;
    uint64_t rip = CTRL64(CT_ENTRY);
    memcpy(o, &rip, 8); o += 8;
    for (int r = 0; r < 16; r++, o += 8) { uint64_t v = CTRL64(CT_OUT_GPR + 8 * r); memcpy(o, &v, 8); }
    uint64_t fl = CTRL64(CT_OUT_RFLAGS);
    memcpy(o, &fl, 8); o += 8;
    uint32_t mx = CTRL32(CT_OUT_MXCSR), zero = 0;
    memcpy(o, &mx, 4); o += 4;
    memcpy(o, &zero, 4); o += 4;
    memcpy(o, (void *) (uintptr_t) (DT_CTRL + CT_OUT_XMM), 256); o += 256;
    write_all(out, sizeof out);
    for (int q = 0; q < QWORDS; q++) {
        if (data[q] != initial[q]) {
            uint8_t d[10];
            uint16_t idx = (uint16_t) q;
            memcpy(d, &idx, 2);
            memcpy(d + 2, &data[q], 8);
            write_all(d, sizeof d);
        }
    }
}

int main(void) {
    static char inbuf[1 << 16], outbuf[1 << 18];
    setvbuf(stdin, inbuf, _IOFBF, sizeof inbuf);
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    map_fixed(DT_CODE_PAGE, 0x2000, PROT_READ | PROT_WRITE | PROT_EXEC);
    map_fixed(DT_DATA, DT_DATA_SIZE, PROT_READ | PROT_WRITE);
    map_fixed(DT_CTRL, 0x1000, PROT_READ | PROT_WRITE);
    /* At DT_CODE_END: jmp *0(%rip); .quad dt_exit */
    uint8_t *tail = (uint8_t *) (uintptr_t) DT_CODE_END;
    static const uint8_t jmp_abs[6] = {0xFF, 0x25, 0, 0, 0, 0};
    memcpy(tail, jmp_abs, 6);
    uint64_t target = (uint64_t) (uintptr_t) &dt_exit;
    memcpy(tail + 6, &target, 8);

    stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16, .ss_flags = 0};
    if (!ss.ss_sp || sigaltstack(&ss, NULL) != 0) die("sigaltstack");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGVTALRM};
    for (unsigned k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
        if (sigaction(sigs[k], &sa, NULL) != 0) die("sigaction");
    }

    write_all("DTH1", 4);
    fflush(stdout);
    for (;;) {
        uint8_t cnt[4];
        read_exact(cnt, 4);
        uint32_t n = get32(cnt);
        if (n == 0) return 0;
        struct test_case *batch = calloc(n, sizeof *batch);
        if (!batch) die("calloc");
        for (uint32_t k = 0; k < n; k++) read_case(&batch[k]);
        for (uint32_t k = 0; k < n; k++) {
            run_case(&batch[k]);
            free(batch[k].patch_bytes);
            free(batch[k].code);
        }
        free(batch);
        if (fflush(stdout) != 0) die("flushing stdout");
    }
}
