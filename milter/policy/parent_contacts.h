// The optional parent-contacts export from the MIS ([school] parent_contacts): which
// outside addresses belong to the parents and carers of which pupil.
//
// Format: one line per pupil or per contact, "Pupil First Last,address[,address...]"
// (commas or tabs; a header line without '@' and lines starting with '#' are skipped).
//
// With it, special-category detail about a named pupil sent only to addresses listed for
// that pupil is routine, lawful correspondence: check() clears it for such an address. Sent
// to any other address - another pupil's parent included - it stays held, and check() says
// which pupil and which address did not match (sending a child's details to the wrong
// parent is the commonest school data breach). Pure; thread-safe after parse().
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pm {

class ParentContacts {
 public:
  // Throws std::invalid_argument("line N: ...") on a line with a pupil but no address.
  static ParentContacts parse(std::string_view text);

  bool empty() const { return by_address_.empty(); }
  bool listed(std::string_view address) const;
  std::size_t pupils() const { return pupil_count_; }

  struct Check {
    bool cleared = false;  // every named pupil is one this address is listed for
    std::string mismatch;  // else, for --explain: "pupil X is not listed for ADDR", ...
  };
  // `named`: the persons named where the confidential findings are (one list per finding).
  // Names with a title (Mr, Mrs, Ms, Miss, Mx, Dr) are adults, not pupils, and ignored.
  Check check(const std::vector<std::vector<std::string>>& named, std::string_view address) const;

 private:
  // address (lower case) -> pupils (lower-case full names) it is listed for
  std::map<std::string, std::set<std::string>, std::less<>> by_address_;
  std::size_t pupil_count_ = 0;
};

}  // namespace pm
