/*
 * The runtime's common part: formatting, argument parsing, the result line, messages and
 * collectives. Compiled once and linked into both the guest programs and the native executables.
 */
#include "rt.h"

/* ---- Start ---- */

static const char *prog = "?";
static struct lwk_info self;    /* rt_info at start: the fields that never change */

int rt_run(int argc, char **argv)
{
    if (argc > 0 && argv[0]) {
        prog = argv[0];
        for (const char *p = argv[0]; *p; p++)
            if (*p == '/')
                prog = p + 1;
    }
    rt_info(&self);
    return rt_main(argc, argv);
}

const char *rt_prog(void) { return prog; }
unsigned rt_proc_index(void) { return self.proc_index; }
unsigned rt_procs(void) { return self.procs; }
unsigned rt_rank(void) { return self.rank; }
unsigned rt_nranks(void) { return self.nranks; }
bool rt_lead(void) { return self.proc_index == 0 && self.rank == 0; }

int rt_join_status(int status)
{
    if (self.proc_index == 0 && self.procs > 1) {
        int others = rt_join();
        if (others > status)
            status = others;
    }
    return status;
}

size_t rt_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* ---- Formatting ---- */

/* Where formatted text goes: a caller's string, or a buffer flushed to the console. */
struct sink {
    char *buf;
    size_t cap;       /* bytes buf may hold (without the snprintf terminator) */
    size_t pos;
    size_t total;     /* bytes produced, as printf returns */
    bool console;
};

static void put(struct sink *s, char c)
{
    if (s->pos == s->cap && s->console) {
        rt_write(s->buf, s->pos);
        s->pos = 0;
    }
    if (s->pos < s->cap)
        s->buf[s->pos++] = c;
    s->total++;
}

static void put_n(struct sink *s, char c, int n)
{
    while (n-- > 0)
        put(s, c);
}

static void put_str(struct sink *s, const char *p, size_t n)
{
    while (n--)
        put(s, *p++);
}

struct spec {
    bool left, plus, space, alt, zero;
    int width;
    int prec;         /* -1: none */
};

/* Emits prefix (sign, 0x) and body in a field of spec->width: spaces before or after, or with
 * the 0 flag zeros between prefix and body. */
static void put_field(struct sink *s, const struct spec *sp, const char *prefix, const char *body,
                      size_t blen, bool zero_ok)
{
    size_t plen = rt_strlen(prefix);
    int pad = sp->width - (int)(plen + blen);
    if (!sp->left && !(sp->zero && zero_ok))
        put_n(s, ' ', pad);
    put_str(s, prefix, plen);
    if (!sp->left && sp->zero && zero_ok)
        put_n(s, '0', pad);
    put_str(s, body, blen);
    if (sp->left)
        put_n(s, ' ', pad);
}

static void put_int(struct sink *s, const struct spec *sp, uint64_t v, bool neg, unsigned base,
                    bool upper, char conv)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24], body[96];
    bool nonzero = v != 0;
    int n = 0;
    while (v) {
        tmp[n++] = digits[v % base];
        v /= base;
    }
    int prec = sp->prec < 0 ? 1 : sp->prec;
    if (prec > (int)sizeof(body) - 24)
        prec = (int)sizeof(body) - 24;
    if (conv == 'o' && sp->alt && n >= prec)    /* '#' makes the first octal digit 0 */
        prec = n + 1;
    int len = 0;
    for (int i = n; i < prec; i++)
        body[len++] = '0';
    while (n)
        body[len++] = tmp[--n];
    const char *prefix = "";
    if (neg)
        prefix = "-";
    else if (conv == 'd' && sp->plus)
        prefix = "+";
    else if (conv == 'd' && sp->space)
        prefix = " ";
    else if (conv == 'p' || (sp->alt && base == 16 && nonzero))
        prefix = upper ? "0X" : "0x";
    put_field(s, sp, prefix, body, (size_t)len, sp->prec < 0);
}

/*
 * Doubles. The exact decimal value of a finite double m * 2^e is D * 10^k with D an integer:
 * D = m * 2^e, k = 0 for e >= 0, and D = m * 5^-e, k = e for e < 0. D has at most 767 digits
 * (subnormals), held in base 10^9 limbs. Rounding then works on exact decimal digits, so every
 * conversion is correctly rounded (half to even on exact ties, like glibc).
 */
#define DEC_LIMBS 90
#define DEC_DIGITS (DEC_LIMBS * 9)

struct decimal {
    char d[DEC_DIGITS + 1]; /* significant digits, d[0] != 0 unless n == 0; further digits are 0 */
    int n;
    int exp;                /* decimal exponent of d[0] */
};

static void big_mul(uint32_t *limb, int *n, uint64_t mul)
{
    uint64_t carry = 0;
    for (int i = 0; i < *n; i++) {
        uint64_t t = limb[i] * mul + carry;
        limb[i] = (uint32_t)(t % 1000000000u);
        carry = t / 1000000000u;
    }
    while (carry) {
        limb[(*n)++] = (uint32_t)(carry % 1000000000u);
        carry /= 1000000000u;
    }
}

static void exact_decimal(double x, struct decimal *dec)
{
    union { double d; uint64_t u; } bits = { .d = x };
    uint64_t mant = bits.u & ((1ULL << 52) - 1);
    int bexp = (int)(bits.u >> 52 & 0x7FF);
    if (bexp)
        mant |= 1ULL << 52;
    else
        bexp = 1;
    int e = bexp - 1075;
    dec->n = 0;
    dec->exp = 0;
    if (!mant)
        return;
    uint32_t limb[DEC_LIMBS];
    int n = 0;
    while (mant) {
        limb[n++] = (uint32_t)(mant % 1000000000u);
        mant /= 1000000000u;
    }
    int k = 0;
    if (e >= 0) {
        for (; e >= 32; e -= 32)
            big_mul(limb, &n, 1ULL << 32);
        big_mul(limb, &n, 1ULL << e);
    } else {
        k = e;
        for (e = -e; e >= 13; e -= 13)
            big_mul(limb, &n, 1220703125u);     /* 5^13 */
        uint64_t p5 = 1;
        while (e--)
            p5 *= 5;
        big_mul(limb, &n, p5);
    }
    /* Digits, most significant limb first without its leading zeros. */
    int len = 0;
    char tmp[9];
    uint32_t top = limb[n - 1];
    int t = 0;
    while (top) {
        tmp[t++] = (char)('0' + top % 10);
        top /= 10;
    }
    while (t)
        dec->d[len++] = tmp[--t];
    for (int i = n - 2; i >= 0; i--) {
        uint32_t v = limb[i];
        for (int j = 8; j >= 0; j--) {
            dec->d[len + j] = (char)('0' + v % 10);
            v /= 10;
        }
        len += 9;
    }
    while (len > 0 && dec->d[len - 1] == '0') {
        len--;
        k++;
    }
    dec->n = len;
    dec->exp = len - 1 + k;
}

/* Rounds to the first `keep` digits (keep <= 0: digits above d[0]), half to even. */
static void dec_round(struct decimal *dec, int keep)
{
    if (keep >= dec->n)
        return;
    bool up;
    if (keep < 0) {
        up = false;
    } else {
        char r = dec->d[keep];
        bool rest = false;
        for (int i = keep + 1; i < dec->n; i++)
            rest |= dec->d[i] != '0';
        if (r != '5')
            up = r > '5';
        else
            up = rest || (keep > 0 && (dec->d[keep - 1] - '0') % 2);
    }
    dec->n = keep < 0 ? 0 : keep;
    if (up) {
        int i = dec->n - 1;
        while (i >= 0 && dec->d[i] == '9')
            i--;
        if (i < 0) {                    /* 99..9 (or nothing) rounds up to 1 at the next place */
            dec->d[0] = '1';
            dec->n = 1;
            dec->exp++;
            return;
        }
        dec->d[i]++;
        dec->n = i + 1;
    }
    while (dec->n > 0 && dec->d[dec->n - 1] == '0')
        dec->n--;
    if (dec->n == 0)
        dec->exp = 0;
}

static char dec_digit(const struct decimal *dec, int i)
{
    return i >= 0 && i < dec->n ? dec->d[i] : '0';
}

#define FLOAT_PREC_MAX 400
#define FLOAT_BODY (DEC_DIGITS + FLOAT_PREC_MAX + 16)

/* Fixed notation with `prec` fraction digits of an already rounded decimal, into body. */
static int fmt_fixed(const struct decimal *dec, int prec, bool point, char *body)
{
    int len = 0;
    if (dec->exp < 0 || dec->n == 0)
        body[len++] = '0';
    else
        for (int i = 0; i <= dec->exp; i++)
            body[len++] = dec_digit(dec, i);
    if (prec > 0 || point)
        body[len++] = '.';
    int first = dec->n ? dec->exp : 0;
    for (int j = 1; j <= prec; j++)
        body[len++] = dec_digit(dec, first + j);
    return len;
}

static int fmt_exp(const struct decimal *dec, int prec, bool point, bool upper, char *body)
{
    int len = 0;
    body[len++] = dec_digit(dec, 0);
    if (prec > 0 || point)
        body[len++] = '.';
    for (int i = 1; i <= prec; i++)
        body[len++] = dec_digit(dec, i);
    body[len++] = upper ? 'E' : 'e';
    int x = dec->n ? dec->exp : 0;
    body[len++] = x < 0 ? '-' : '+';
    if (x < 0)
        x = -x;
    char tmp[4];
    int t = 0;
    do {
        tmp[t++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    if (t < 2)
        tmp[t++] = '0';
    while (t)
        body[len++] = tmp[--t];
    return len;
}

static void put_double(struct sink *s, const struct spec *sp, double x, char conv)
{
    union { double d; uint64_t u; } bits = { .d = x };
    bool neg = bits.u >> 63;
    bool upper = conv == 'F' || conv == 'E' || conv == 'G';
    const char *prefix = neg ? "-" : sp->plus ? "+" : sp->space ? " " : "";
    if ((bits.u >> 52 & 0x7FF) == 0x7FF) {
        bool nan = bits.u & ((1ULL << 52) - 1);
        put_field(s, sp, prefix, nan ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"), 3, false);
        return;
    }
    static struct decimal dec;  /* large; formatting is not reentrant anyway (one thread) */
    static char body[FLOAT_BODY];
    exact_decimal(x, &dec);
    int prec = sp->prec < 0 ? 6 : sp->prec > FLOAT_PREC_MAX ? FLOAT_PREC_MAX : sp->prec;
    int len;
    switch (conv) {
    case 'f': case 'F':
        dec_round(&dec, dec.exp + prec + 1);
        len = fmt_fixed(&dec, prec, sp->alt, body);
        break;
    case 'e': case 'E':
        dec_round(&dec, prec + 1);
        len = fmt_exp(&dec, prec, sp->alt, upper, body);
        break;
    default: {                  /* g: the shorter style for `prec` significant digits */
        int p = prec ? prec : 1;
        dec_round(&dec, p);
        int x10 = dec.n ? dec.exp : 0;
        /* Without '#', trailing zeros go: show only the digits left after rounding. */
        int sig = sp->alt ? p : (dec.n ? dec.n : 1);
        if (x10 >= -4 && x10 < p) {
            int fp = sig - 1 - x10;
            len = fmt_fixed(&dec, fp > 0 ? fp : 0, sp->alt, body);
        } else {
            len = fmt_exp(&dec, sig - 1, sp->alt, conv == 'G', body);
        }
        break;
    }
    }
    put_field(s, sp, prefix, body, (size_t)len, true);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(s, *fmt);
            continue;
        }
        struct spec sp = { .prec = -1 };
        for (;; fmt++) {
            char c = fmt[1];
            if (c == '-') sp.left = true;
            else if (c == '+') sp.plus = true;
            else if (c == ' ') sp.space = true;
            else if (c == '#') sp.alt = true;
            else if (c == '0') sp.zero = true;
            else break;
        }
        fmt++;
        if (*fmt == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.left = true;
                sp.width = -sp.width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                sp.width = sp.width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            sp.prec = 0;
            if (*fmt == '*') {
                sp.prec = va_arg(ap, int);
                if (sp.prec < 0)
                    sp.prec = -1;
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    sp.prec = sp.prec * 10 + (*fmt++ - '0');
            }
        }
        int size = 0;               /* -2 hh, -1 h, 0 int, 1 long/size_t/ptrdiff/intmax */
        for (;; fmt++) {
            if (*fmt == 'h') size--;
            else if (*fmt == 'l' || *fmt == 'z' || *fmt == 't' || *fmt == 'j') size = 1;
            else break;
        }
        char conv = *fmt;
        switch (conv) {
        case 'd': case 'i': {
            int64_t v = size > 0 ? va_arg(ap, long) : va_arg(ap, int);
            if (size == -1) v = (short)v;
            if (size <= -2) v = (signed char)v;
            put_int(s, &sp, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, false, 'd');
            break;
        }
        case 'u': case 'x': case 'X': case 'o': {
            uint64_t v = size > 0 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            if (size == -1) v = (unsigned short)v;
            if (size <= -2) v = (unsigned char)v;
            put_int(s, &sp, v, false, conv == 'u' ? 10 : conv == 'o' ? 8 : 16, conv == 'X', conv);
            break;
        }
        case 'p':
            put_int(s, &sp, (uintptr_t)va_arg(ap, void *), false, 16, false, 'p');
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_field(s, &sp, "", &c, 1, false);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            size_t n = 0;
            while (str[n] && (sp.prec < 0 || n < (size_t)sp.prec))
                n++;
            put_field(s, &sp, "", str, n, false);
            break;
        }
        case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
            put_double(s, &sp, va_arg(ap, double), conv);
            break;
        case '%':
            put(s, '%');
            break;
        default:                    /* unknown: print it as written */
            put(s, '%');
            if (!conv)
                return;
            put(s, conv);
            break;
        }
    }
}

int rt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = { .buf = buf, .cap = size ? size - 1 : 0 };
    format(&s, fmt, ap);
    if (size)
        buf[s.pos] = '\0';
    return (int)s.total;
}

int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = rt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int rt_vprintf(const char *fmt, va_list ap)
{
    char buf[1024];
    struct sink s = { .buf = buf, .cap = sizeof(buf), .console = true };
    format(&s, fmt, ap);
    if (s.pos)
        rt_write(buf, s.pos);
    return (int)s.total;
}

int rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = rt_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

_Noreturn void rt_fail(int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    rt_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rt_printf("%s: %s\n", prog, msg);
    rt_exit(status);
}

/* ---- Arguments ---- */

/* Options the kernel reads from the same command line. */
static const char *const kernel_keys[] = { "procs", "cpus", "slice", "swap", "rank", "nranks", "quiet", "symbiotic", "symtest" };

static bool parse_u64(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!*p)
        return false;
    for (; *p; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9') d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f') d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F') d = (unsigned)(*p - 'A' + 10);
        else return false;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

/* Decimal digits with an optional point and exponent; at most 19 significant digits count. */
static bool parse_double(const char *p, double *out)
{
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    uint64_t mant = 0;
    int digits = 0, scale = 0;
    bool any = false, point = false;
    for (; (*p >= '0' && *p <= '9') || (*p == '.' && !point); p++) {
        if (*p == '.') {
            point = true;
            continue;
        }
        any = true;
        if (digits < 19) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            if (mant)
                digits++;
            scale -= point;
        } else {
            scale += !point;
        }
    }
    if (!any)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        bool eneg = *p == '-';
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        int e = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            if (e < 10000)
                e = e * 10 + (*p - '0');
        scale += eneg ? -e : e;
    }
    if (*p)
        return false;
    double v = (double)mant, p10 = 10.0;
    /* 10^|scale| by squaring, then one multiplication or division keeps the error small. */
    double pow10 = 1.0;
    for (int e = scale < 0 ? -scale : scale; e; e >>= 1, p10 *= p10)
        if (e & 1)
            pow10 *= p10;
    v = scale < 0 ? v / pow10 : v * pow10;
    *out = neg ? -v : v;
    return true;
}

/* Appends " key" to the list in buf (size bytes, len used so far); returns the new length. */
static size_t append_key(char *buf, size_t len, size_t size, const char *key)
{
    return len + (size_t)rt_snprintf(buf + len, len < size ? size - len : 0, " %s", key);
}

/* Prints `what` about `word`, with the accepted keys, from process 0 only, and exits with 2. */
_Noreturn static void usage_error(const struct rt_opt *opts, size_t nopts, const char *what,
                                  const char *word)
{
    if (rt_proc_index() == 0) {
        char list[512];
        size_t len = 0;
        for (size_t i = 0; i < nopts; i++)
            len = append_key(list, len, sizeof(list), opts[i].key);
        len += (size_t)rt_snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0,
                                   "%s (and the kernel's:", nopts ? "" : " none");
        for (size_t i = 0; i < sizeof(kernel_keys) / sizeof(kernel_keys[0]); i++)
            len = append_key(list, len, sizeof(list), kernel_keys[i]);
        rt_printf("%s: '%s': %s; accepted keys:%s)\n", prog, word, what, list);
    }
    rt_exit(2);
}

void rt_parse_args(int argc, char **argv, const struct rt_opt *opts, size_t nopts)
{
    for (int a = 1; a < argc; a++) {
        const char *word = argv[a];
        const char *eq = word;
        while (*eq && *eq != '=')
            eq++;
        size_t klen = (size_t)(eq - word);
        /* Kernel keys, with a value or without one (the kernel takes a bare "quiet"). */
        bool kernel = false;
        for (size_t i = 0; i < sizeof(kernel_keys) / sizeof(kernel_keys[0]); i++)
            kernel |= rt_strlen(kernel_keys[i]) == klen && !memcmp(kernel_keys[i], word, klen);
        if (kernel)
            continue;
        if (!*eq || eq == word)
            usage_error(opts, nopts, "not key=value", word);
        const struct rt_opt *opt = NULL;
        for (size_t i = 0; i < nopts && !opt; i++)
            if (rt_strlen(opts[i].key) == klen && !memcmp(opts[i].key, word, klen))
                opt = &opts[i];
        if (!opt)
            usage_error(opts, nopts, "unknown key", word);
        const char *val = eq + 1;
        bool ok = opt->type == RT_OPT_U64 ? parse_u64(val, opt->val) : parse_double(val, opt->val);
        if (!ok)
            usage_error(opts, nopts, opt->type == RT_OPT_U64 ? "not an unsigned number (decimal or 0x hex)"
                                                             : "not a number", word);
    }
}

/* ---- Result line ---- */

void rt_result(const char *name, const char *fmt, ...)
{
    if (!rt_lead())
        return;
    char line[1024];
    int n = rt_snprintf(line, sizeof(line), "RESULT name=%s ", name);
    va_list ap;
    va_start(ap, fmt);
    if (n < (int)sizeof(line))
        n += rt_vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    rt_write(line, (size_t)n);
}

/* ---- Messages ---- */

enum { TAG_BARRIER_UP = RT_TAG_RESERVED, TAG_BARRIER_DOWN, TAG_REDUCE, TAG_BCAST };
enum reduce_op { REDUCE_SUM, REDUCE_MAX };

void rt_send(int dst_rank, int tag, const void *buf, size_t len)
{
    const char *p = buf;
    do {
        size_t chunk = len < LWK_MSG_MAX ? len : LWK_MSG_MAX;
        long r = rt_sys_send(dst_rank, tag, p, chunk);
        if (r < 0)
            rt_fail(1, "send to rank %d (tag %d, %zu bytes) failed: error %ld", dst_rank, tag, chunk, -r);
        p += chunk;
        len -= chunk;
    } while (len);
}

void rt_recv(int src_rank, int tag, void *buf, size_t len)
{
    char *p = buf;
    do {
        size_t chunk = len < LWK_MSG_MAX ? len : LWK_MSG_MAX;
        long r = rt_sys_recv(src_rank, tag, p, chunk);
        if (r < 0)
            rt_fail(1, "receive from rank %d (tag %d, %zu bytes) failed: error %ld", src_rank, tag, chunk, -r);
        if ((size_t)r != chunk)
            rt_fail(1, "receive from rank %d (tag %d): %ld bytes, expected %zu", src_rank, tag, r, chunk);
        p += chunk;
        len -= chunk;
    } while (len);
}

/*
 * Collectives on a binomial tree rooted at rank 0: in round k (mask = 2^k) a rank with bit k set
 * sends its partial result to rank - mask and drops out; the others add (or take the larger of)
 * what rank + mask sends. The tree, hence the order of every addition, depends only on nranks,
 * and each rank talks to at most log2(nranks) + 1 others. Rank 0's result
 * goes back down the same tree, so every rank ends with the same bits. log2(nranks) steps.
 */
static void tree_reduce(double *v, size_t n, enum reduce_op op, int tag_up, int tag_down)
{
    enum { BLOCK = 512 };
    unsigned ranks = rt_nranks(), rank = rt_rank();
    double in[BLOCK];
    for (size_t off = 0; off < n; off += BLOCK) {
        size_t cnt = n - off < BLOCK ? n - off : BLOCK, bytes = cnt * sizeof(double);
        unsigned mask = 1;
        for (; mask < ranks; mask <<= 1) {
            if (rank & mask) {
                rt_send((int)(rank - mask), tag_up, v + off, bytes);
                break;
            }
            if (rank + mask < ranks) {
                rt_recv((int)(rank + mask), tag_up, in, bytes);
                for (size_t i = 0; i < cnt; i++) {
                    if (op == REDUCE_SUM)
                        v[off + i] += in[i];
                    else if (in[i] > v[off + i] || in[i] != in[i])   /* a NaN anywhere wins */
                        v[off + i] = in[i];
                }
            }
        }
        /* Down: from the parent (rank 0 has none), then to the children below this level. */
        if (rank)
            rt_recv((int)(rank - mask), tag_down, v + off, bytes);
        for (mask >>= 1; mask; mask >>= 1)
            if (rank + mask < ranks)
                rt_send((int)(rank + mask), tag_down, v + off, bytes);
    }
}

void rt_barrier(void)
{
    double token = 0.0;
    if (rt_nranks() > 1)
        tree_reduce(&token, 1, REDUCE_SUM, TAG_BARRIER_UP, TAG_BARRIER_DOWN);
}

void rt_allreduce_sum(double *v, size_t n)
{
    if (rt_nranks() > 1)
        tree_reduce(v, n, REDUCE_SUM, TAG_REDUCE, TAG_BCAST);
}

void rt_allreduce_max(double *v, size_t n)
{
    if (rt_nranks() > 1)
        tree_reduce(v, n, REDUCE_MAX, TAG_REDUCE, TAG_BCAST);
}
