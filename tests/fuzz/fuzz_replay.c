/*
 * fuzz_replay.c — a main() for the fuzz targets when libFuzzer is not available (gcc builds,
 * PORTICO_FUZZ=OFF): runs LLVMFuzzerTestOneInput once on every file named on the command line
 * or found in a named directory. ctest uses it to replay the generated seed corpus, so the
 * targets and their round-trip properties are exercised in every build, and a crash input saved
 * by a real fuzzing run can be replayed under gdb or valgrind without clang.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "error: cannot open %s\n", path);
        return -1;
    }
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(data, cap);
            if (p == NULL) {
                free(data);
                fclose(f);
                fprintf(stderr, "error: out of memory reading %s\n", path);
                return -1;
            }
            data = p;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        fprintf(stderr, "error: cannot read %s\n", path);
        return -1;
    }
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 0;
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "error: %s does not exist\n", argv[i]);
            failed = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed |= replay_file(argv[i]) != 0;
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            fprintf(stderr, "error: cannot open directory %s\n", argv[i]);
            failed = 1;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            failed |= replay_file(path) != 0;
            n++;
        }
        closedir(d);
    }
    printf("replayed %zu inputs\n", n);
    if (n == 0) {
        fprintf(stderr, "error: no inputs (give files or directories)\n");
        return 1;
    }
    return failed;
}
