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

# GCC 12 reports false null dereferences inside Asio's and Beast's templates once it inlines
# them (optimised builds). For the targets that include Asio: the flag is set on their sources,
# since options there come after the target's (and aero_warnings') own.
function(aero_allow_asio_null_dereference target)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    get_target_property(sources ${target} SOURCES)
    get_target_property(source_dir ${target} SOURCE_DIR)
    foreach(source IN LISTS sources)
      set_property(SOURCE ${source} DIRECTORY ${source_dir} APPEND PROPERTY COMPILE_OPTIONS
                   -Wno-null-dereference)
    endforeach()
  endif()
endfunction()
