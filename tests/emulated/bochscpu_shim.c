// Preloaded into the Python process that runs tests/emulated/ (LD_PRELOAD,
// built by scripts/test_vnni_emulated.sh). Two jobs:
//
// 1. bochscpu-python's wheel was linked against glibc 2.38, which renamed
//    strtoull and sscanf to their C23 entry points; Debian 12 has glibc 2.36.
//    The two functions below forward to the old ones (same behaviour for the
//    formats Bochs parses).
// 2. The wheel hard-codes the CPU model Bochs emulates. Bochs asks for it
//    through sim_get_param_enum("cpu.model"), an exported function the
//    module calls through its PLT, so this library can answer first: with
//    BOCHSCPU_MODEL_INDEX set, the model is that index of Bochs' cpudb list
//    (only the index counts; the names are for display). Every other
//    parameter goes to the module's own function.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned long long __isoc23_strtoull(const char* s, char** end, int base) {
  return strtoull(s, end, base);
}

int __isoc23_sscanf(const char* s, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  const int r = vsscanf(s, format, ap);
  va_end(ap);
  return r;
}

static const char* g_module_path;

static int find_module(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  (void)data;
  if (info->dlpi_name != NULL && strstr(info->dlpi_name, "_bochscpu") != NULL) {
    g_module_path = info->dlpi_name;
    return 1;
  }
  return 0;
}

// A symbol of the bochscpu module itself (loaded RTLD_LOCAL by Python, so
// RTLD_NEXT does not see it).
static void* module_symbol(const char* name) {
  if (g_module_path == NULL) dl_iterate_phdr(find_module, NULL);
  if (g_module_path == NULL) return NULL;
  void* handle = dlopen(g_module_path, RTLD_NOLOAD | RTLD_NOW);
  return handle != NULL ? dlsym(handle, name) : NULL;
}

typedef void* (*GetParamFn)(const char*);
typedef void* (*NewEnumFn)(const char*, const char**, unsigned);

void* sim_get_param_enum(const char* name) {
  static void* model_param;
  static const char* names[129];
  const char* index = getenv("BOCHSCPU_MODEL_INDEX");
  if (index != NULL && strcmp(name, "cpu.model") == 0) {
    if (model_param == NULL) {
      NewEnumFn make = (NewEnumFn)module_symbol("sim_new_param_enum");
      const int i = atoi(index);
      if (make == NULL || i < 0 || i >= 128) {
        fprintf(stderr, "bochscpu_shim: cannot select CPU model %s\n", index);
        abort();
      }
      for (int k = 0; k < 128; ++k) names[k] = "model";
      names[128] = NULL;
      model_param = make("model", names, (unsigned)i);
    }
    return model_param;
  }
  GetParamFn next = (GetParamFn)module_symbol("sim_get_param_enum");
  return next != NULL ? next(name) : NULL;
}
