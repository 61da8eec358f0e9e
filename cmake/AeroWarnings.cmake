# Warning flags shared by every aero-net target (architecture habit 9).
add_library(aero_warnings INTERFACE)
target_compile_options(aero_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wnull-dereference
  -Wimplicit-fallthrough)
if(AERO_WERROR)
  target_compile_options(aero_warnings INTERFACE -Werror)
endif()
