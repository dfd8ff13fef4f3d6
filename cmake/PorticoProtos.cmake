# PorticoProtos.cmake — portico_add_protos(): from .proto files to what the gateway serves, in one
# protoc run with protoc-gen-portico (docs/CODEGEN.md):
#
#   <OUT_DIR>/<NAME>.pb            the descriptor set the gateway loads (--include_imports, with source info)
#   <OUT_DIR>/<NAME>.routes        the transcoding table, one route per line
#   <OUT_DIR>/<NAME>.openapi.json  the OpenAPI 3.1 document
#
#   include(${PORTICO_SOURCE_DIR}/cmake/PorticoProtos.cmake)
#   portico_add_protos(TARGET shop_descriptors
#                      PROTOS ${CMAKE_SOURCE_DIR}/descriptors/shop/v1/shop.proto
#                      IMPORT_DIRS ${CMAKE_SOURCE_DIR}/descriptors /usr/include
#                      OUT_DIR ${CMAKE_BINARY_DIR}/descriptors
#                      NAME shop)
#
# Arguments:
#   TARGET       the custom target to create (part of ALL) that builds the outputs
#   PROTOS       .proto files, absolute or relative to CMAKE_CURRENT_SOURCE_DIR; each must lie under one
#                of IMPORT_DIRS (protoc names files by their path below the import dir)
#   IMPORT_DIRS  protoc -I directories (the google/api and google/protobuf protos must be reachable)
#   OUT_DIR      where the outputs go; default CMAKE_CURRENT_BINARY_DIR
#   NAME         base name of the outputs; default the first proto's name without ".proto"
#   OPTIONS      more plugin parameters, e.g. openapi=false, title=Shop, version=1.2.0, server=https://x
#   PLUGIN       the protoc-gen-portico executable; default the protoc-gen-portico target of this build
#                (also when portico's codegen/ is added after the caller), else the
#                PORTICO_PROTOC_GEN_PORTICO cache variable, else protoc-gen-portico on PATH
#   DEPENDS      more files or targets the outputs depend on
#
# The target gets the properties PORTICO_DESCRIPTOR_SET, PORTICO_ROUTES and PORTICO_OPENAPI (the output
# paths). The descriptor set is written by protoc itself (--descriptor_set_out) rather than by the
# plugin: the bytes are the same set, and Debian's libprotobuf logs a UTF-8 complaint whenever a plugin
# returns binary content. With a single proto, protoc's --dependency_out makes every import a dependency.
include_guard(GLOBAL)

# When this file is portico's own (cmake/ beside codegen/) and portico is the project being built, the
# protoc-gen-portico target exists by generate time even if codegen/ is added after the caller.
get_filename_component(_PORTICO_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)

function(portico_add_protos)
  cmake_parse_arguments(PAP "" "TARGET;OUT_DIR;NAME;PLUGIN" "PROTOS;IMPORT_DIRS;OPTIONS;DEPENDS" ${ARGN})
  if(NOT PAP_TARGET)
    message(FATAL_ERROR "portico_add_protos: TARGET is required")
  endif()
  if(NOT PAP_PROTOS)
    message(FATAL_ERROR "portico_add_protos(${PAP_TARGET}): PROTOS is required")
  endif()
  if(PAP_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "portico_add_protos(${PAP_TARGET}): unknown arguments: ${PAP_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT PAP_OUT_DIR)
    set(PAP_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  get_filename_component(out_dir "${PAP_OUT_DIR}" ABSOLUTE BASE_DIR ${CMAKE_CURRENT_BINARY_DIR})
  file(MAKE_DIRECTORY ${out_dir}) # the command runs there (protoc writes the depfile's paths as given)

  if(NOT PROTOC)
    find_program(PROTOC protoc REQUIRED)
  endif()

  set(plugin_dep)
  if(PAP_PLUGIN)
    set(plugin ${PAP_PLUGIN})
  elseif(TARGET protoc-gen-portico OR (_PORTICO_ROOT STREQUAL CMAKE_SOURCE_DIR AND EXISTS ${_PORTICO_ROOT}/codegen/CMakeLists.txt))
    set(plugin $<TARGET_FILE:protoc-gen-portico>)
    set(plugin_dep protoc-gen-portico)
  elseif(PORTICO_PROTOC_GEN_PORTICO)
    set(plugin ${PORTICO_PROTOC_GEN_PORTICO})
  else()
    find_program(PORTICO_PROTOC_GEN_PORTICO protoc-gen-portico)
    if(NOT PORTICO_PROTOC_GEN_PORTICO)
      message(FATAL_ERROR "portico_add_protos(${PAP_TARGET}): protoc-gen-portico not found; build portico's codegen/ "
                          "in this project, pass PLUGIN, or set PORTICO_PROTOC_GEN_PORTICO")
    endif()
    set(plugin ${PORTICO_PROTOC_GEN_PORTICO})
  endif()

  set(protos)
  foreach(p ${PAP_PROTOS})
    get_filename_component(abs "${p}" ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND protos ${abs})
  endforeach()
  list(GET protos 0 first)
  if(PAP_NAME)
    set(name ${PAP_NAME})
  else()
    get_filename_component(name "${first}" NAME_WE)
  endif()

  set(includes)
  foreach(d ${PAP_IMPORT_DIRS})
    get_filename_component(abs "${d}" ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND includes -I ${abs})
  endforeach()

  set(params "name=${name}" "descriptor_set=false" ${PAP_OPTIONS})
  string(REPLACE ";" "," params "${params}")

  set(desc ${out_dir}/${name}.pb)
  set(routes ${out_dir}/${name}.routes)
  set(openapi ${out_dir}/${name}.openapi.json)
  set(outputs ${desc})
  if(NOT "routes=false" IN_LIST PAP_OPTIONS)
    list(APPEND outputs ${routes})
  endif()
  if(NOT "openapi=false" IN_LIST PAP_OPTIONS)
    list(APPEND outputs ${openapi})
  endif()

  set(depfile_args)
  list(LENGTH protos n_protos)
  if(n_protos EQUAL 1 AND CMAKE_VERSION VERSION_GREATER_EQUAL 3.20)
    set(depfile_args DEPFILE ${out_dir}/${name}.d)
    set(depout --dependency_out=${out_dir}/${name}.d)
  else()
    set(depout)
  endif()

  add_custom_command(OUTPUT ${outputs}
    COMMAND ${PROTOC} --plugin=protoc-gen-portico=${plugin} --portico_out=${out_dir} --portico_opt=${params}
            --descriptor_set_out=${desc} --include_imports --include_source_info ${depout}
            ${includes} ${protos}
    DEPENDS ${protos} ${plugin_dep} ${PAP_DEPENDS}
    ${depfile_args}
    WORKING_DIRECTORY ${out_dir}
    COMMENT "protoc-gen-portico ${name}: ${name}.pb, ${name}.routes, ${name}.openapi.json"
    VERBATIM)
  add_custom_target(${PAP_TARGET} ALL DEPENDS ${outputs})
  set_target_properties(${PAP_TARGET} PROPERTIES
    PORTICO_DESCRIPTOR_SET ${desc} PORTICO_ROUTES ${routes} PORTICO_OPENAPI ${openapi})
endfunction()
