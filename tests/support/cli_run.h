// The minimind CLI run as a user runs it: a real process through the shell, its output (stdout and stderr
// together) and its exit code.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace minimind {

struct CliRun {
  int exit_code;       // -1 when it did not exit normally (a signal)
  std::string output;  // stdout and stderr
  int status = 0;      // as waitpid reports it: a signal shows here
};

inline CliRun run_cli(const std::string& arguments) {
  const std::string command = std::string(MINIMIND_CLI_PATH) + " " + arguments + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output, status};
}

}  // namespace minimind
