// The minimind subcommands; each takes the arguments after its name and returns the exit code.
#pragma once

namespace minimind::cli {

int info_command(int argc, char** argv);
int init_command(int argc, char** argv);
int forward_command(int argc, char** argv);
int bench_command(int argc, char** argv);
int demo_command(int argc, char** argv);
int prepare_command(int argc, char** argv);
int tokenizer_command(int argc, char** argv);
int train_command(int argc, char** argv);
int resume_command(int argc, char** argv);
int eval_command(int argc, char** argv);
int generate_command(int argc, char** argv);
int chat_command(int argc, char** argv);

}  // namespace minimind::cli
