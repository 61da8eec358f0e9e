# Warning flags shared by every aero-net target (architecture habit 9).
add_library(aero_warnings INTERFACE)
target_compile_options(aero_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wnull-dereference
  -Wimplicit-fallthrough
  # GCC 12 warns about members left to their default initializers in C++20 designated
  # initializers, which is the point of designated initializers.
  -Wno-missing-field-initializers)
if(AERO_WERROR)
  target_compile_options(aero_warnings INTERFACE -Werror)
endif()
