# Turns results/schema.sql, views.sql, claims.sql, report.sql and ci/gate.conf into C
# strings (build/sql_text.c).  gate.conf is compiled in twice: as its text
# (the gate's thresholds when no --config is given) and as the view
# gate_threshold (key, value), which the views read (trend_band): one source
# for every threshold.
file(READ ${SCHEMA} schema_text)
file(READ ${VIEWS} views_text)
file(READ ${CLAIMS} claims_text)
file(READ ${REPORT} report_text)
file(READ ${GATE} gate_text)
file(STRINGS ${GATE} gate_lines)
set(gate_values "")
foreach(line IN LISTS gate_lines)
  if(line MATCHES "^([a-z_]+\\.[a-z_]+)[ \t]+([-+0-9.eE]+)")
    if(gate_values)
      string(APPEND gate_values ",\n    ")
    endif()
    string(APPEND gate_values "('${CMAKE_MATCH_1}', ${CMAKE_MATCH_2})")
  endif()
endforeach()
if(NOT gate_values)
  message(FATAL_ERROR "${GATE}: no threshold found")
endif()
set(gatesql_text "-- generated from ci/gate.conf: the gate's thresholds (overrides are the gate's own)\nDROP VIEW IF EXISTS gate_threshold;\nCREATE VIEW gate_threshold (key, value) AS VALUES\n    ${gate_values};\n")
foreach(part schema views claims report gate gatesql)
  set(t "${${part}_text}")
  string(REPLACE "\\" "\\\\" t "${t}")
  string(REPLACE "\"" "\\\"" t "${t}")
  string(REPLACE "\n" "\\n\"\n\"" t "${t}")
  set(${part}_c "${t}")
endforeach()
file(WRITE ${OUT}.tmp "/* generated from results/schema.sql, views.sql, claims.sql, report.sql and ci/gate.conf */\n"
  "const char mb_schema_sql[] = \"${schema_c}\";\n"
  "const char mb_gate_sql[] = \"${gatesql_c}\";\n"
  "const char mb_views_sql[] = \"${views_c}\";\n"
  "const char mb_claims_sql[] = \"${claims_c}\";\n"
  "const char mb_report_sql[] = \"${report_c}\";\n"
  "const char mb_gate_conf[] = \"${gate_c}\";\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
