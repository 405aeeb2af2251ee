# unit/layers: the layers of the top-level CMakeLists.txt hold.
#
# For every target built from a layer (lmnet_LAYER, lmnetd, lmnetctl) and
# every layer folder, compiles a file whose only line includes a header of
# that folder, with the target's real include directories (the transitive
# ones too, as CMake computes them).  It must compile where the target may see
# the folder and fail with "No such file" where it may not: an upward include
# does not build.  Also refuses #include "../..." and absolute quoted
# includes, which would reach past the include path.
#
#   cmake -DSPEC=build/layers_spec.cmake -DCC=cc -DSOURCE_DIR=. -DWORK=dir -P tests/layers_check.cmake
cmake_minimum_required(VERSION 3.25)
foreach(var SPEC CC SOURCE_DIR WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "layers_check: -D${var}= is required")
  endif()
endforeach()
include(${SPEC})
file(MAKE_DIRECTORY ${WORK})

set(failures 0)
set(checks 0)
foreach(dir ${LAYER_DIRS})
  file(GLOB headers ${SOURCE_DIR}/${dir}/*.h)
  list(SORT headers)
  list(GET headers 0 header)
  get_filename_component(header ${header} NAME)
  string(REPLACE "/" "_" name ${dir})
  set(probe ${WORK}/include_${name}.c)
  file(WRITE ${probe} "#include \"${dir}/${header}\"\n")
  foreach(target ${LAYER_TARGETS})
    set(flags "")
    foreach(inc ${LAYER_${target}_INCLUDES})
      list(APPEND flags -I${inc})
    endforeach()
    execute_process(COMMAND ${CC} -std=c11 -D_GNU_SOURCE -fsyntax-only ${flags} ${probe}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    math(EXPR checks "${checks} + 1")
    if(dir IN_LIST LAYER_${target}_SEES)
      if(NOT rc EQUAL 0)
        message("FAIL: ${target} may include \"${dir}/${header}\" but it does not compile:\n${out}")
        math(EXPR failures "${failures} + 1")
      endif()
    elseif(rc EQUAL 0)
      message("FAIL: ${target} lies below ${dir}/ and yet compiles #include \"${dir}/${header}\"")
      math(EXPR failures "${failures} + 1")
    elseif(NOT out MATCHES "No such file")
      message("FAIL: ${target} including \"${dir}/${header}\" failed, but not for want of the file:\n${out}")
      math(EXPR failures "${failures} + 1")
    endif()
  endforeach()
endforeach()

set(globs "")
foreach(dir ${LAYER_DIRS} daemon tests)
  list(APPEND globs ${SOURCE_DIR}/${dir}/*.c ${SOURCE_DIR}/${dir}/*.h)
endforeach()
file(GLOB_RECURSE sources ${globs})
foreach(source ${sources})
  file(STRINGS ${source} bad REGEX "^[ \t]*#[ \t]*include[ \t]*\"(\\.\\.|/)")
  if(bad)
    message("FAIL: ${source}: ${bad}: include by the folder of a layer (\"db/db.h\"), not by a relative or absolute path")
    math(EXPR failures "${failures} + 1")
  endif()
endforeach()

if(failures GREATER 0)
  message(FATAL_ERROR "layers_check: ${failures} failures (${checks} include checks and the relative-include scan)")
endif()
message("layers_check: ${checks} include checks passed")
