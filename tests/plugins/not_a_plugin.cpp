// A shared object that is not a GPU plugin (no engram_gpu_plugin_abi): the
// loader must say so rather than call into it.
extern "C" __attribute__((visibility("default"))) int engram_test_not_a_plugin() { return 42; }
