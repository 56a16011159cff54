# cnnc_add_model(<target> <model file>
#                [NAME <name>] [TARGET <halide target>] [INFERENCE_ONLY]
#                [WEIGHTS <file.safetensors>] [TRAIN_CONFIG <train.yaml>] [OPTIONS <cnnc option>...])
#
# Compiles <model file> (.yaml or .onnx) with cnnc at build time into
# ${CMAKE_CURRENT_BINARY_DIR}/<name>.so (name: the model file's stem unless NAME is given),
# rebuilt when the model file, the weights or the compiler change, and makes <target>
# depend on it and link cnnc::runtime. <target> gets the compile definition
# CNNC_MODEL_<NAME>="<path of name.so>" (NAME upper-cased, other characters than letters
# and digits as _), which it passes to cnnc::Model; the caller's variable
# CNNC_MODEL_<NAME>_PATH holds the same path (for install() or tests).
#   TARGET          the Halide target (host, host-cuda, host-opencl, ...); default host
#   INFERENCE_ONLY  leave out the train step (faster to compile)
#   WEIGHTS         embed these parameter values in the model (cnnc --embed-weights)
#   TRAIN_CONFIG    training settings for a model without a train: section (--train-config)
#   OPTIONS         any other cnnc options
function(cnnc_add_model target model)
  cmake_parse_arguments(PARSE_ARGV 2 ARG "INFERENCE_ONLY" "NAME;TARGET;WEIGHTS;TRAIN_CONFIG"
                        "OPTIONS")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "cnnc_add_model: unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "cnnc_add_model: '${target}' is not a target")
  endif()
  if(NOT TARGET cnnc::cnnc)
    message(FATAL_ERROR "cnnc_add_model: the cnnc compiler was not found with the package")
  endif()
  get_filename_component(model "${model}" ABSOLUTE)
  if(NOT ARG_NAME)
    get_filename_component(ARG_NAME "${model}" NAME_WE)
  endif()
  string(MAKE_C_IDENTIFIER "${ARG_NAME}" id)
  string(TOUPPER "${id}" id)
  set(output "${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}.so")

  set(args "${model}" -o "${output}")
  set(deps "${model}" cnnc::cnnc)
  if(ARG_TARGET)
    list(APPEND args "--target=${ARG_TARGET}")
  endif()
  if(ARG_INFERENCE_ONLY)
    list(APPEND args --inference-only)
  endif()
  if(ARG_WEIGHTS)
    get_filename_component(weights "${ARG_WEIGHTS}" ABSOLUTE)
    list(APPEND args --embed-weights "${weights}")
    list(APPEND deps "${weights}")
  endif()
  if(ARG_TRAIN_CONFIG)
    get_filename_component(config "${ARG_TRAIN_CONFIG}" ABSOLUTE)
    list(APPEND args --train-config "${config}")
    list(APPEND deps "${config}")
  endif()
  list(APPEND args ${ARG_OPTIONS})

  add_custom_command(OUTPUT "${output}"
    COMMAND cnnc::cnnc ${args}
    DEPENDS ${deps}
    COMMENT "Compiling model ${ARG_NAME}.so with cnnc"
    VERBATIM)
  add_custom_target(${target}_${ARG_NAME}_model DEPENDS "${output}")
  add_dependencies(${target} ${target}_${ARG_NAME}_model)
  target_link_libraries(${target} PRIVATE cnnc::runtime)
  target_compile_definitions(${target} PRIVATE "CNNC_MODEL_${id}=\"${output}\"")
  set(CNNC_MODEL_${id}_PATH "${output}" PARENT_SCOPE)
endfunction()
