/* aero-snd-play: plays or records PCM through the kernel's own ALSA ioctls (no alsa-lib), built
 * static into the Linux test guest. The played signal identifies every frame: frame i is
 * L = i & 0xffff, R = 0x4000 + (i >> 16) (i counts from --base), so the host can find each one bit-exactly in what
 * QEMU's audio backend wrote, and silence (0, 0) never matches.
 *
 *   aero-snd-play play DEV FRAMES [options]   S16_LE, 2 ch, 48 kHz
 *   aero-snd-play record DEV FRAMES OUTFILE   S16_LE, 1 ch, 48 kHz, raw samples to OUTFILE
 * options: --period F (frames, 1920)  --periods N (4)  --base B (index of the first frame, 0)
 *          --stall-at F --stall-ms MS   stop writing for MS after frame F (underrun, xrun)
 *          --pause-at F --pause-ms MS   PAUSE push, wait MS, PAUSE release after frame F
 *          --drop-at F                  DROP after frame F with buffers queued, PREPARE, go on
 *          --tone HZ                    play a sine of HZ at half scale on both channels instead
 * Prints one line "snd-play: frames=... ms=... xruns=... drops=..." and exits 0 on success.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <sound/asound.h>

static void mask_only(struct snd_pcm_hw_params *p, int param, unsigned bit)
{
    struct snd_mask *m = &p->masks[param - SNDRV_PCM_HW_PARAM_FIRST_MASK];
    memset(m, 0, sizeof(*m));
    m->bits[bit / 32] = 1u << (bit % 32);
}

static void interval_is(struct snd_pcm_hw_params *p, int param, unsigned v)
{
    struct snd_interval *i = &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
    memset(i, 0, sizeof(*i));
    i->min = i->max = v;
    i->integer = 1;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int open_pcm(const char *dev, unsigned channels, unsigned period, unsigned periods)
{
    int fd = open(dev, O_RDWR);
    if (fd < 0) {
        perror(dev);
        exit(1);
    }
    struct snd_pcm_hw_params hw;
    memset(&hw, 0, sizeof(hw));
    for (int i = SNDRV_PCM_HW_PARAM_FIRST_MASK; i <= SNDRV_PCM_HW_PARAM_LAST_MASK; i++)
        memset(&hw.masks[i - SNDRV_PCM_HW_PARAM_FIRST_MASK], 0xff, sizeof(struct snd_mask));
    for (int i = SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; i <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL; i++) {
        struct snd_interval *iv = &hw.intervals[i - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
        iv->min = 0;
        iv->max = ~0u;
    }
    hw.rmask = ~0u;
    hw.info = ~0u;
    mask_only(&hw, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
    mask_only(&hw, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
    mask_only(&hw, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
    interval_is(&hw, SNDRV_PCM_HW_PARAM_CHANNELS, channels);
    interval_is(&hw, SNDRV_PCM_HW_PARAM_RATE, 48000);
    interval_is(&hw, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, period);
    interval_is(&hw, SNDRV_PCM_HW_PARAM_PERIODS, periods);
    if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &hw) < 0) {
        perror("HW_PARAMS");
        exit(1);
    }
    struct snd_pcm_sw_params sw;
    memset(&sw, 0, sizeof(sw));
    sw.period_step = 1;
    sw.avail_min = period;
    sw.xfer_align = 1;
    sw.start_threshold = period * periods; /* start once the whole buffer is queued */
    sw.stop_threshold = period * periods;
    if (ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, &sw) < 0) {
        perror("SW_PARAMS");
        exit(1);
    }
    if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
        perror("PREPARE");
        exit(1);
    }
    return fd;
}

static unsigned long arg_num(int argc, char **argv, const char *name, unsigned long def)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return strtoul(argv[i + 1], NULL, 0);
    return def;
}

static int play(const char *dev, unsigned long frames, int argc, char **argv)
{
    unsigned period = (unsigned)arg_num(argc, argv, "--period", 1920);
    unsigned periods = (unsigned)arg_num(argc, argv, "--periods", 4);
    unsigned long stall_at = arg_num(argc, argv, "--stall-at", ~0ul);
    unsigned long stall_ms = arg_num(argc, argv, "--stall-ms", 0);
    unsigned long pause_at = arg_num(argc, argv, "--pause-at", ~0ul);
    unsigned long pause_ms = arg_num(argc, argv, "--pause-ms", 0);
    unsigned long drop_at = arg_num(argc, argv, "--drop-at", ~0ul);
    unsigned long base = arg_num(argc, argv, "--base", 0);
    unsigned long tone = arg_num(argc, argv, "--tone", 0);
    int fd = open_pcm(dev, 2, period, periods);
    /* The signal, then 100 ms of silence, rounded up to whole periods. */
    unsigned long total = frames + 4800;
    total = (total + period - 1) / period * period;
    int16_t *buf = calloc(period, 4);
    unsigned xruns = 0, drops = 0;
    long t0 = now_ms();
    for (unsigned long pos = 0; pos < total;) {
        for (unsigned f = 0; f < period; f++) {
            unsigned long i = pos + f, v = base + i;
            buf[2 * f] = i < frames ? (int16_t)(v & 0xffff) : 0;
            buf[2 * f + 1] = i < frames ? (int16_t)(0x4000 + (v >> 16)) : 0;
            if (tone && i < frames)
                buf[2 * f] = buf[2 * f + 1] =
                    (int16_t)lround(16384.0 * sin(2.0 * M_PI * (double)tone * (double)i / 48000.0));
        }
        struct snd_xferi x = {.buf = buf, .frames = period};
        if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
            if (errno == EPIPE) { /* underrun: prepare and write this period again */
                xruns++;
                if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
                    perror("PREPARE after xrun");
                    return 1;
                }
                continue;
            }
            perror("WRITEI");
            return 1;
        }
        pos += (unsigned long)x.result;
        if (pos >= stall_at && pos - (unsigned long)x.result < stall_at)
            usleep(stall_ms * 1000);
        if (pos >= pause_at && pos - (unsigned long)x.result < pause_at) {
            if (ioctl(fd, SNDRV_PCM_IOCTL_PAUSE, 1) < 0) {
                perror("PAUSE push");
                return 1;
            }
            usleep(pause_ms * 1000);
            if (ioctl(fd, SNDRV_PCM_IOCTL_PAUSE, 0) < 0) {
                perror("PAUSE release");
                return 1;
            }
        }
        if (pos >= drop_at && pos - (unsigned long)x.result < drop_at) {
            /* buffers are queued: DROP makes the driver STOP and RELEASE them; the next
             * PREPARE fails (EBADFD) unless RELEASE completed every one */
            if (ioctl(fd, SNDRV_PCM_IOCTL_DROP) < 0 || ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
                perror("DROP/PREPARE");
                return 1;
            }
            drops++;
        }
    }
    if (ioctl(fd, SNDRV_PCM_IOCTL_DRAIN) < 0) {
        perror("DRAIN");
        return 1;
    }
    long ms = now_ms() - t0;
    close(fd);
    printf("snd-play: frames=%lu total=%lu ms=%ld xruns=%u drops=%u\n", frames, total, ms, xruns,
           drops);
    return 0;
}

static int record(const char *dev, unsigned long frames, const char *out, int argc, char **argv)
{
    unsigned period = (unsigned)arg_num(argc, argv, "--period", 1920);
    unsigned periods = (unsigned)arg_num(argc, argv, "--periods", 4);
    int fd = open_pcm(dev, 1, period, periods);
    FILE *f = fopen(out, "wb");
    if (!f) {
        perror(out);
        return 1;
    }
    int16_t *buf = calloc(period, 2);
    unsigned xruns = 0;
    long t0 = now_ms();
    if (ioctl(fd, SNDRV_PCM_IOCTL_START) < 0) {
        perror("START");
        return 1;
    }
    for (unsigned long got = 0; got < frames;) {
        struct snd_xferi x = {.buf = buf, .frames = period};
        if (ioctl(fd, SNDRV_PCM_IOCTL_READI_FRAMES, &x) < 0) {
            if (errno == EPIPE) {
                xruns++;
                if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0 || ioctl(fd, SNDRV_PCM_IOCTL_START) < 0) {
                    perror("restart after overrun");
                    return 1;
                }
                continue;
            }
            perror("READI");
            return 1;
        }
        fwrite(buf, 2, (size_t)x.result, f);
        got += (unsigned long)x.result;
    }
    long ms = now_ms() - t0;
    ioctl(fd, SNDRV_PCM_IOCTL_DROP);
    close(fd);
    fclose(f);
    printf("snd-play: recorded=%lu ms=%ld xruns=%u\n", frames, ms, xruns);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "play"))
        return play(argv[2], strtoul(argv[3], NULL, 0), argc, argv);
    if (argc >= 5 && !strcmp(argv[1], "record"))
        return record(argv[2], strtoul(argv[3], NULL, 0), argv[4], argc, argv);
    fprintf(stderr, "usage: aero-snd-play play DEV FRAMES [options] | record DEV FRAMES OUT\n");
    return 2;
}
