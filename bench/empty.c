/* The floor for any preloaded library (`make bench-exec`): one function and nothing else,
 * built as build/bench/libempty.so beside libmuxshim.so. */
void muxshim_bench_empty(void);
void muxshim_bench_empty(void) {}
