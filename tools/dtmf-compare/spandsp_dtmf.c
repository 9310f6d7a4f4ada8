/*
 * Reference DTMF receiver for tools/dtmf-compare: reads raw signed 16-bit little-endian mono 8 kHz PCM on stdin,
 * runs spandsp's dtmf_rx with its default parameters, prints the received digits as one line on stdout.
 * Built at run time by compare.ts: gcc -O2 spandsp_dtmf.c -lspandsp
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <spandsp.h>

int main(void)
{
    dtmf_rx_state_t *rx = dtmf_rx_init(NULL, NULL, NULL);
    int16_t buf[160];
    char digits[4096];
    size_t total = 0;
    size_t n;

    if (rx == NULL)
        return 2;
    while ((n = fread(buf, sizeof(int16_t), 160, stdin)) > 0) {
        dtmf_rx(rx, buf, (int) n);
        /* drain often: dtmf_rx keeps at most 128 digits internally */
        total += dtmf_rx_get(rx, digits + total, (int) (sizeof(digits) - 1 - total));
    }
    /* trailing silence so a digit still on at the end of the file is reported */
    memset(buf, 0, sizeof(buf));
    for (int i = 0; i < 10; i++)
        dtmf_rx(rx, buf, 160);
    total += dtmf_rx_get(rx, digits + total, (int) (sizeof(digits) - 1 - total));
    digits[total] = '\0';
    printf("%s\n", digits);
    dtmf_rx_free(rx);
    return 0;
}
