// policyctl subcommands over held mail and reviewer accounts (issue 6). Same contract as
// commands.h: each takes the arguments after its name and returns 0 ok, 1 a failure the
// admin must look at (e.g. the MTA refused a release), 2 bad usage or configuration.
//
//   quarantine list [--status held|released|refused|all] [--category C] [--sender S] [--json]
//   quarantine show ID [--json | --raw]   --raw: the stored message bytes
//   quarantine release ID [--to ADDR]... [--note TEXT]
//   quarantine refuse ID [--note TEXT]
//   quarantine delete ID [--note TEXT]
//   quarantine purge      retention now (refuse undecided past held_days, with notices;
//                         purge decided past decided_days) and send pending notices
//   quarantine notify [--digest]   send pending notices now
//   users add LOGIN --role reviewer|admin|dpo|it-admin [--email ADDR] [--categories a,b]
//             [--school ID]... [--totp] [--password-stdin]
//   users set LOGIN [--school ID]... [--role ROLE] [--duties a,b]
//   users remove LOGIN | users passwd LOGIN [--password-stdin] | users totp LOGIN [--off]
//   users list [--json]
// Every change is audited in the store as "policyctl:<login of the admin>".
#pragma once

#include <optional>
#include <ostream>

#include "cli/commands.h"
#include "review/config.h"

namespace pm::cli {

int quarantine(const std::filesystem::path& config, const Args& args);

// The start both commands share: with no arguments or --help, prints `usage` and returns
// the exit status; otherwise loads the review configuration into `out` (an error is
// printed and gives status 2) and returns nothing.
std::optional<int> help_or_load(const char* usage, const std::filesystem::path& config,
                                const Args& args, ReviewConfig& out);
// The loading half of help_or_load: status 2 (the error printed) or nothing.
std::optional<int> load_or_report(const std::filesystem::path& config, ReviewConfig& out);
int users(const std::filesystem::path& config, const Args& args);
// exceptions proposed: "not a violation" decisions as [[exceptions.rule]] snippets (issue 13).
int exceptions(const std::filesystem::path& config, const Args& args);
// For `policyctl status`: warns on `err` when notices would link to the default
// loopback address (public_url unset). Silent when the configuration cannot be read.
void review_warnings(const std::filesystem::path& config, std::ostream& err);

}  // namespace pm::cli
