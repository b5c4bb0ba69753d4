/* Float arithmetic that must match Redis bit for bit.
 *
 * Redis computes INCRBYFLOAT/HINCRBYFLOAT in C `long double` and prints the result with
 * "%.17Lf" minus trailing zeros; replies to clients differ visibly if we compute in f64
 * (10.5 + 0.1 prints as 10.6 in Redis, 10.59999999999999964 in f64). Rust has no f80 type, so
 * the few operations that need it live here. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

/* Redis's string2ld: strtold on the whole string, no leading space, no NaN, no range error. */
static int parse_ld(const char *s, size_t len, long double *out) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    char *end;
    long double value;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' || (size_t)(end - buf) != len ||
        (errno == ERANGE && (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) ||
        isnan(value))
        return 0;
    *out = value;
    return 1;
}

int kiwi_parse_long_double_ok(const char *s, size_t len) {
    long double ignored;
    return parse_ld(s, len, &ignored);
}

/* Returns the length written to `out`, -1 when an input is not a float, -2 on NaN/Inf result. */
int kiwi_incr_long_double(const char *cur, size_t cur_len, const char *incr, size_t incr_len,
                          char *out, size_t out_cap) {
    long double a, b, sum;
    int n;
    if (!parse_ld(cur, cur_len, &a) || !parse_ld(incr, incr_len, &b)) return -1;
    sum = a + b;
    if (isnan(sum) || isinf(sum)) return -2;
    n = snprintf(out, out_cap, "%.17Lf", sum);
    if (n < 0 || (size_t)n + 1 > out_cap) return -1;
    if (strchr(out, '.') != NULL) {
        char *p = out + n - 1;
        while (*p == '0') { p--; n--; }
        if (*p == '.') n--;
    }
    if (n == 2 && out[0] == '-' && out[1] == '0') { out[0] = '0'; n = 1; }
    return n;
}

/* Redis 7.0's addReplyDouble formatting. */
int kiwi_format_double(double value, char *out, size_t out_cap) {
    int n = snprintf(out, out_cap, "%.17g", value);
    return (n < 0 || (size_t)n >= out_cap) ? 0 : n;
}
