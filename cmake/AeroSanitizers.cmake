# AddressSanitizer + UndefinedBehaviorSanitizer for the `asan` and `fuzz` presets.
# UBSan findings abort instead of printing and continuing, so a test run cannot pass over one.
if(AERO_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()

# In the fuzz build every library gets libFuzzer's coverage instrumentation, so the fuzzers are
# guided by the code they test, not only by their own entry points. The fuzz targets themselves
# link with -fsanitize=fuzzer (cmake/AeroFuzz.cmake).
if(AERO_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
