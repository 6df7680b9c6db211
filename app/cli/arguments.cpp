// Parsing and checking of --name value arguments.
#include "cli/arguments.h"

#include <charconv>
#include <sstream>

namespace minimind::cli {

Arguments::Arguments(std::string command, std::vector<Option> options, int argc, char** argv)
    : command_(std::move(command)), options_(std::move(options)) {
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0)
      throw UsageError("unexpected argument '" + arg + "' (options start with --; see minimind " + command_ + " --help)");
    std::string name = arg.substr(2), value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Option& opt = option(name);
    if (!opt.value_name.empty() && arg.find('=') == std::string::npos) {
      const bool boolean_option = opt.value_name == "BOOL";
      if (boolean_option && (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0)) {
        value = "true";
      } else {
        if (i + 1 >= argc) throw UsageError("--" + name + " needs a value (" + opt.value_name + ")");
        value = argv[++i];
      }
    } else if (opt.value_name.empty() && arg.find('=') == std::string::npos) {
      value = "true";
    }
    if (values_.count(name)) throw UsageError("--" + name + " is given twice");
    values_[name] = value;
  }
}

const Option& Arguments::option(const std::string& name) const {
  for (const Option& o : options_)
    if (o.name == name) return o;
  throw UsageError("unknown option --" + name + " for 'minimind " + command_ + "' (see minimind " + command_ +
                   " --help)");
}

std::string Arguments::usage() const {
  std::ostringstream out;
  out << "Options of minimind " << command_ << ":\n";
  for (const Option& o : options_) {
    std::string left = "  --" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    if (left.size() < 34) left.resize(34, ' ');
    else left += "\n" + std::string(34, ' ');
    out << left << o.help << "\n";
  }
  return out.str();
}

bool Arguments::flag(const std::string& name) const { return optional_bool(name).value_or(false); }

std::string Arguments::text(const std::string& name, const std::string& fallback) const {
  option(name);
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Arguments::required_text(const std::string& name) const {
  option(name);
  auto it = values_.find(name);
  if (it == values_.end()) throw UsageError("minimind " + command_ + " needs --" + name);
  return it->second;
}

std::optional<int64_t> Arguments::optional_integer(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  const std::string& s = values_.at(name);
  int64_t value = 0;
  auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (error != std::errc() || end != s.data() + s.size())
    throw UsageError("--" + name + " expects an integer, got '" + s + "'");
  return value;
}

std::optional<double> Arguments::optional_number(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  const std::string& s = values_.at(name);
  try {
    size_t used = 0;
    const double value = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
    return value;
  } catch (const std::exception&) {
    throw UsageError("--" + name + " expects a number, got '" + s + "'");
  }
}

std::optional<bool> Arguments::optional_bool(const std::string& name) const {
  option(name);
  if (!has(name)) return std::nullopt;
  const std::string& s = values_.at(name);
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  throw UsageError("--" + name + " expects true or false, got '" + s + "'");
}

int64_t Arguments::integer(const std::string& name, int64_t fallback) const {
  option(name);
  return optional_integer(name).value_or(fallback);
}

double Arguments::number(const std::string& name, double fallback) const {
  option(name);
  return optional_number(name).value_or(fallback);
}

std::vector<int64_t> parse_integer_list(const std::string& text, const std::string& what) {
  std::vector<int64_t> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const size_t first = item.find_first_not_of(" \t"), last = item.find_last_not_of(" \t");
    item = first == std::string::npos ? "" : item.substr(first, last - first + 1);
    int64_t value = 0;
    auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || error != std::errc() || end != item.data() + item.size())
      throw UsageError(what + ": '" + item + "' at position " + std::to_string(values.size()) + " is not an integer");
    values.push_back(value);
  }
  if (values.empty()) throw UsageError(what + " is empty");
  return values;
}

}  // namespace minimind::cli
