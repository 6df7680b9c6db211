// Command-line arguments of one subcommand: --name value and --flag, checked against the options the
// command declares, so a typo is an error that names it rather than something silently ignored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace minimind::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Option {
  std::string name;  // without the dashes
  std::string value_name;  // empty for a flag
  std::string help;
};

class Arguments {
 public:
  Arguments(std::string command, std::vector<Option> options, int argc, char** argv);

  bool help_requested() const { return help_; }
  std::string usage() const;

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  bool flag(const std::string& name) const;
  std::string text(const std::string& name, const std::string& fallback = "") const;
  std::string required_text(const std::string& name) const;
  int64_t integer(const std::string& name, int64_t fallback) const;
  double number(const std::string& name, double fallback) const;
  std::optional<int64_t> optional_integer(const std::string& name) const;
  std::optional<double> optional_number(const std::string& name) const;
  std::optional<bool> optional_bool(const std::string& name) const;  // a flag, or --name true/false

 private:
  const Option& option(const std::string& name) const;
  std::string command_;
  std::vector<Option> options_;
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

// Comma-separated integers ("1,2,3"); names the offending item.
std::vector<int64_t> parse_integer_list(const std::string& text, const std::string& what);

}  // namespace minimind::cli
