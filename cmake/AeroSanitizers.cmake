# AddressSanitizer + UndefinedBehaviorSanitizer for the `asan` and `fuzz` presets.
# UBSan findings abort instead of printing and continuing, so a test run cannot pass over one.
if(AERO_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
