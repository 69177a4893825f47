# Turns results/schema.sql, views.sql and claims.sql into C strings (build/sql_text.c).
file(READ ${SCHEMA} schema_text)
file(READ ${VIEWS} views_text)
file(READ ${CLAIMS} claims_text)
foreach(part schema views claims)
  set(t "${${part}_text}")
  string(REPLACE "\\" "\\\\" t "${t}")
  string(REPLACE "\"" "\\\"" t "${t}")
  string(REPLACE "\n" "\\n\"\n\"" t "${t}")
  set(${part}_c "${t}")
endforeach()
file(WRITE ${OUT}.tmp "/* generated from results/schema.sql, views.sql and claims.sql */\n"
  "const char mb_schema_sql[] = \"${schema_c}\";\n"
  "const char mb_views_sql[] = \"${views_c}\";\n"
  "const char mb_claims_sql[] = \"${claims_c}\";\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
