/* bench/bench_cli.hpp — command-line helpers shared by the C++ bench
 * programs (adapter_tax, mb_flagship_bench), header-only so each stays one
 * program of one file plus its bare C side. */
#pragma once

#include <string>
#include <vector>

/* Returns the comma-separated parts of s, empty parts kept ("a,,b" -> "a",
 * "", "b"; "" -> one empty part): a caller rejects an empty name itself. */
inline std::vector<std::string> bench_split_commas(const char *s)
{
    std::vector<std::string> out;
    std::string cur;
    for (; *s; s++) {
        if (*s == ',') {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += *s;
        }
    }
    out.push_back(cur);
    return out;
}
