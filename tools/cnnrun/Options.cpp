//===- Options.cpp - The command line of cnnrun ---------------------------===//
//
// cnnrun's CLI11 application: one subcommand per command, each with only the
// options that apply to it, so `cnnrun COMMAND --help` lists exactly those
// and anything else is rejected. An option takes its value as `--name value`
// or `--name=value`; given twice, the last value wins, except --input and
// --output, which collect one path per use. Numbers are read here in base
// 10, with the tool's own messages ("--batch must be at least 1, got 0"). An
// unknown command or option is reported with the closest known name, or with
// the commands it belongs to.
//
//===----------------------------------------------------------------------===//
#include "Options.h"

#include "Data.h"

#include "cnnc/model_schema.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace cnnrun {
namespace {

/// An integer of at least `min` given to `flag`, or a ValidationError.
int64_t parseCount(const std::string &flag, const std::string &text, int64_t min) {
  char *end = nullptr;
  errno = 0;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno || end == text.c_str() || *end)
    throw CLI::ValidationError(flag + " expects an integer, got '" + text + "'");
  if (value < min)
    throw CLI::ValidationError(flag + " must be at least " + std::to_string(min) + ", got " + text);
  return value;
}

/// A finite non-negative number given to `flag`, or a ValidationError.
double parseNonNegative(const std::string &flag, const std::string &text) {
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end || !std::isfinite(value) || value < 0)
    throw CLI::ValidationError(flag + " expects a non-negative number, got '" + text + "'");
  return value;
}

/// Adds `--name N`: an integer of at least `min`, stored in `target`.
void addCount(CLI::App &command, const std::string &flag, int64_t &target, int64_t min,
              const std::string &help) {
  command
      .add_option_function<std::string>(
          flag,
          [flag, &target, min](const std::string &text) { target = parseCount(flag, text, min); },
          help)
      ->type_name("N");
}

/// Adds `--name VALUE`: a string stored in `target`.
CLI::Option *addString(CLI::App &command, const std::string &flag, std::string &target,
                       const std::string &valueName, const std::string &help) {
  return command.add_option(flag, target, help)->type_name(valueName);
}

/// Adds `--name VALUE`, once per value: each use appends one path to `target`
/// (`--input a b` leaves b unexpected).
void addPaths(CLI::App &command, const std::string &flag, std::vector<std::string> &target,
              const std::string &valueName, const std::string &help) {
  command.add_option(flag, target, help)
      ->type_name(valueName)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

/// --strip-prefix, for the commands that read --weights.
void addStripPrefix(CLI::App &c, Options &o) {
  addString(c, "--strip-prefix", o.stripPrefix, "PREFIX",
            "read parameter NAME from the --weights file's tensor PREFIX + NAME, e.g. module. "
            "for a torch.nn.DataParallel state_dict (default: none)");
}

void addJson(CLI::App &command, Options &o, const std::string &help) {
  command.add_flag("--json", o.json, help);
}

// The options of each command, after the MODEL.so that all of them take.

void infoOptions(CLI::App &c, Options &o) {
  addJson(c, o,
          "print one JSON object: inputs, outputs, parameters (name, shape) and steps "
          "(name, flops), in metadata order");
}

void runOptions(CLI::App &c, Options &o) {
  addString(c, "--weights", o.weights, "W.safetensors",
            "the parameters (required unless the model embeds them)");
  addStripPrefix(c, o);
  addPaths(c, "--input", o.inputs, "X.npy", "an input array; once per model input, in model order");
  addPaths(c, "--output", o.outputs, "Y.npy",
           "where to write an output; once per model output, in model order");
}

void benchOptions(CLI::App &c, Options &o) {
  addCount(c, "--batch", o.batch, 1, "batch size (default 1)");
  addString(c, "--weights", o.weights, "W.safetensors",
            "the parameters (default: those the model embeds, else deterministic "
            "pseudo-random values)");
  addStripPrefix(c, o);
  addCount(c, "--iters", o.iters, 1, "timed iterations (default 20)");
  addCount(c, "--warmup", o.warmup, 0, "untimed iterations before them (default 3)");
  c.add_flag("--train", o.train,
             "time whole train steps (forward, loss, backward, update) instead of inference");
  addJson(c, o,
          "print one JSON object: model, mode, batch, iters, steps (name, ms, gflops) and "
          "total (ms, gflops, images_per_s)");
}

/// Adds `--name X`: a number checked by `parse` (which throws
/// CLI::ValidationError), stored in `target`.
void addNumber(CLI::App &command, const std::string &flag, double &target,
               double (*parse)(const std::string &flag, const std::string &text),
               const std::string &help) {
  command
      .add_option_function<std::string>(
          flag, [flag, &target, parse](const std::string &text) { target = parse(flag, text); },
          help)
      ->type_name("X");
}

/// A number in (0, 1) given to `flag`, or a ValidationError.
double parseFraction(const std::string &flag, const std::string &text) {
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end || !(value > 0 && value < 1))
    throw CLI::ValidationError(flag + " expects a fraction between 0 and 1, e.g. 0.1, got '" +
                               text + "'");
  return value;
}

/// Runs a parser that throws std::runtime_error as a CLI11 validation.
template <typename F> void validated(F parse) {
  try {
    parse();
  } catch (const std::runtime_error &e) {
    throw CLI::ValidationError(e.what());
  }
}

/// --mean and --std: the normalization of every item (train and eval).
void addNormalization(CLI::App &c, Options &o) {
  c.add_option_function<std::string>(
       "--mean",
       [&o](const std::string &text) {
         validated([&] { o.preprocessing.mean = Preprocessing::parseList("--mean", text, false); });
       },
       "normalize each item to (x - mean) / std: one mean, or one per channel "
       "(0.485,0.456,0.406); given with --std (default: no normalization)")
      ->type_name("X[,Y,Z]");
  c.add_option_function<std::string>(
       "--std",
       [&o](const std::string &text) {
         validated([&] { o.preprocessing.std = Preprocessing::parseList("--std", text, true); });
       },
       "the standard deviation of the normalization, one or one per channel")
      ->type_name("X[,Y,Z]");
}

/// Adds `--name X`: a non-negative number stored in an optional.
void addSetting(CLI::App &c, const std::string &flag, std::optional<double> &target,
                const std::string &help) {
  c.add_option_function<std::string>(
       flag, [flag, &target](const std::string &text) { target = parseNonNegative(flag, text); },
       help)
      ->type_name("X");
}

/// The optimizer settings `cnnrun train` may change without recompiling.
void addOptimizerOptions(CLI::App &c, Options &o) {
  c.add_option_function<std::string>(
       "--optimizer",
       [&o](const std::string &text) {
         if (text != "sgd" && text != "adam" && text != "adamw")
           throw CLI::ValidationError("--optimizer expects sgd, adam or adamw, got '" + text + "'");
         o.optimizer = text;
       },
       "sgd, adam or adamw, if the compiled state allows it: a model compiled with Adam or "
       "AdamW runs any of them, one compiled with SGD with momentum runs SGD with any momentum, "
       "one compiled with plain SGD only plain SGD; a different optimizer starts from its own "
       "defaults")
      ->type_name("NAME");
  addSetting(c, "--momentum", o.momentum, "SGD momentum");
  addSetting(c, "--dampening", o.dampening, "SGD dampening");
  c.add_flag_function(
      "--nesterov", [&o](int64_t count) { o.nesterov = count > 0; },
      "SGD with Nesterov momentum (--nesterov=false: without)");
  addSetting(c, "--weight-decay", o.weightDecay,
             "L2 weight decay (SGD, Adam) or decoupled weight decay (AdamW)");
  addSetting(c, "--beta1", o.beta1, "Adam/AdamW beta1");
  addSetting(c, "--beta2", o.beta2, "Adam/AdamW beta2");
  addSetting(c, "--epsilon", o.epsilon, "Adam/AdamW epsilon");
  addSetting(c, "--label-smoothing", o.labelSmoothing,
             "cross-entropy against (1 - X) one-hot + X / classes, X in [0, 1) (default: the "
             "model's, else 0)");
  addSetting(c, "--clip-grad-norm", o.clipGradNorm,
             "scale the gradients so that their global L2 norm is at most X; 0 turns it off "
             "(the model must be compiled with clipping: cnnc --clip-grad-norm; default: the "
             "model's)");
}

void trainOptions(CLI::App &c, Options &o) {
  std::string section = std::string(cnnc::schema::key::kTrain) + ": section";
  c.option_defaults()->group("Data");
  addString(c, "--data", o.data, "DIR", "the dataset directory (its layouts are listed below)")
      ->required();
  addCount(c, "--limit", o.limit, 1, "train on the first N items only (default: all)");
  addNumber(c, "--val-split", o.valSplit, parseFraction,
            "hold out this share of the training items (a fixed random selection) as a "
            "validation set, "
            "evaluated after every epoch (default: the data's own validation set, if any)");
  addCount(c, "--test-limit", o.testLimit, 0,
           "test on the first N items only; 0 skips testing (default: all)");
  addNormalization(c, o);
  c.add_option_function<std::string>(
       "--augment",
       [&o](const std::string &text) { validated([&] { o.preprocessing.parseAugment(text); }); },
       "augment training items: crop:P (a random crop after P pixels of zero padding), "
       "flip (a random horizontal flip) or both, crop:4,flip; drawn from --seed, the epoch and "
       "the position (default: none)")
      ->type_name("LIST");
  c.option_defaults()->group("Training");
  addCount(c, "--epochs", o.epochs, 1,
           "epochs (default: from the model's " + section + ", else 1)");
  addCount(c, "--batch", o.batch, 1,
           "batch size (default: from the model's " + section + ", else 32)");
  c.add_option_function<std::string>(
       "--lr", [&o](const std::string &text) { o.lr = parseNonNegative("--lr", text); },
       "learning rate (default: the model's optimizer lr)")
      ->type_name("X");
  addString(c, "--lr-schedule", o.lrSchedule, "S",
            "constant, step:E:G (times G every E epochs) or cosine (to 0 at the last step) "
            "(default constant)");
  addCount(c, "--lr-warmup", o.lrWarmup, 1,
           "scale the rate linearly from 1/N to 1 over the first N steps, on top of the "
           "schedule (default: no warm-up)");
  addCount(c, "--early-stop", o.earlyStop, 1,
           "stop when the validation loss has not improved for N epochs (needs a validation "
           "set; default: never)");
  c.add_option_function<std::string>(
       "--seed",
       [&o](const std::string &text) {
         o.seed = uint64_t(parseCount("--seed", text, 0));
         o.seedGiven = true;
       },
       "seed of the initialization, the shuffles and the augmentation (default 0, or the "
       "checkpoint's with --resume)")
      ->type_name("N");
  addString(c, "--weights", o.weights, "W.safetensors",
            "start from these parameters (default: those the model embeds, else the "
            "initialization)");
  addStripPrefix(c, o);
  c.option_defaults()->group(
      "Optimizer (changed at run time; default: the model's settings, or the checkpoint's)");
  addOptimizerOptions(c, o);
  c.option_defaults()->group("Checkpoints and output");
  addString(c, "--checkpoint", o.checkpoint, "PATH",
            "write a checkpoint here after each epoch, every --checkpoint-every steps, and on "
            "SIGINT or SIGTERM (then stop)");
  addCount(c, "--checkpoint-every", o.checkpointEvery, 1, "also checkpoint every N steps");
  addString(c, "--resume", o.resume, "PATH",
            "continue from a checkpoint, at any step, with the data order and augmentation of "
            "an uninterrupted run (same --data, --batch, --limit and --val-split)");
  addString(c, "--log", o.log, "metrics.csv",
            "write one CSV row per epoch: epoch, train_loss, train_accuracy, test_loss, "
            "test_accuracy, lr, seconds, val_loss, val_accuracy (appended to when resuming)");
  addCount(c, "--print-every", o.printEvery, 1,
           "when stdout is not a terminal, print a progress line every N steps (default: every "
           "tenth of an epoch, at most one a second; a terminal shows a bar with ETA instead)");
  addJson(c, o,
          "print one JSON object per epoch (epoch, step, train_loss, train_acc, val_loss, "
          "val_acc, test_loss, test_acc, lr, seconds, data_wait_seconds; null where not "
          "measured) and nothing else");
  c.footer(kDataHelp);
}

void evalOptions(CLI::App &c, Options &o) {
  addString(c, "--checkpoint", o.checkpoint, "PATH", "the checkpoint to evaluate");
  addString(c, "--weights", o.weights, "W.safetensors",
            "the parameters file to evaluate (instead of --checkpoint; default: the "
            "parameters the model embeds)");
  addStripPrefix(c, o);
  addString(c, "--data", o.data, "DIR",
            "the dataset directory; its test set is evaluated (layouts below)")
      ->required();
  addCount(c, "--batch", o.batch, 1, "batch size (default: the model's train batch, else 64)");
  addCount(c, "--test-limit", o.testLimit, 1, "test on the first N items only (default: all)");
  addNormalization(c, o);
  addJson(c, o, "print one JSON object: test_acc, test_loss, correct, count");
  c.footer(kDataHelp);
}

/// A command: its name and description for the help, and its options.
struct Command {
  const char *name;
  const char *description;
  void (*addOptions)(CLI::App &command, Options &o);
};

/// The commands, in the order of the help.
const Command commands[] = {
    {"info",
     "Print the model's inputs, outputs, parameters and steps (FLOP per item), and the "
     "training defaults of a model compiled with training.",
     infoOptions},
    {"run",
     "Run the model once on float32 .npy inputs (batch taken from their shapes) and write "
     "float32 .npy outputs.",
     runOptions},
    {"bench", "Time the model: the median time and GFLOP/s of each step and of a whole run.",
     benchOptions},
    {"train",
     "Train on a dataset (IDX, .npy arrays or folders of images), evaluating on its "
     "validation set (or, without one, its test set) after each epoch.",
     trainOptions},
    {"eval",
     "Report the test accuracy (and loss) of a checkpoint or a parameters file: give exactly "
     "one of --checkpoint and --weights.",
     evalOptions},
};

/// Adds every command: its MODEL.so argument, then its options.
void addCommands(CLI::App &app, Options &o) {
  for (const Command &command : commands) {
    CLI::App &c = *app.add_subcommand(command.name, command.description);
    c.add_option("MODEL.so", o.model, "the model library compiled by cnnc")
        ->required()
        ->type_name("");
    command.addOptions(c, o);
  }
}

/// The number of single-character insertions, deletions and substitutions
/// that turn `a` into `b`.
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// " (did you mean 'X'?)" for the candidate closest to `given` if it is
/// close enough to be a typo of it (a few edits away), or else for the one
/// candidate that begins `given` or that `given` begins ("--batchsize",
/// "--test"); otherwise "".
std::string suggestion(const std::string &given, const std::vector<std::string> &candidates) {
  const std::string *best = nullptr;
  size_t bestDistance = std::max<size_t>(2, given.size() / 3) + 1;
  for (const std::string &candidate : candidates)
    if (size_t d = editDistance(given, candidate); d < bestDistance) {
      best = &candidate;
      bestDistance = d;
    }
  if (!best) {
    auto begins = [](const std::string &s, const std::string &prefix) {
      return s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
    };
    int prefixMatches = 0;
    for (const std::string &candidate : candidates)
      if (begins(given, candidate) || (given.size() > 3 && begins(candidate, given))) {
        best = &candidate;
        ++prefixMatches;
      }
    if (prefixMatches != 1)
      best = nullptr;
  }
  return best ? " (did you mean '" + *best + "'?)" : "";
}

/// The names of the commands, in the order of the help.
std::vector<std::string> commandNames(const CLI::App &app) {
  std::vector<std::string> names;
  for (const CLI::App *command : app.get_subcommands({}))
    names.push_back(command->get_name());
  return names;
}

/// The long option names ("--batch") of a command.
std::vector<std::string> optionNames(const CLI::App &command) {
  std::vector<std::string> names;
  for (const CLI::Option *option : command.get_options())
    for (const std::string &name : option->get_lnames())
      names.push_back("--" + name);
  return names;
}

/// The names joined by ", ", and by `conjunction` ("or", "and") before the last.
std::string listOf(const std::vector<std::string> &names, const std::string &conjunction) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i)
    s += (i == 0 ? "" : i + 1 == names.size() ? " " + conjunction + " " : ", ") + names[i];
  return s;
}

/// The message for an argument of `command` that no option or positional took.
std::string unexpectedArgument(const CLI::App &app, const CLI::App &command,
                               const std::string &argument) {
  const std::string &name = command.get_name();
  bool isOption =
      argument.size() > 1 && argument[0] == '-' && !std::isdigit(argument[1]) && argument != "--";
  if (!isOption)
    return "unexpected argument '" + argument + "' for '" + name + "'";
  std::string flag = argument.substr(0, argument.find('='));
  std::vector<std::string> owners;
  for (const CLI::App *other : app.get_subcommands({}))
    if (other != &command) {
      std::vector<std::string> names = optionNames(*other);
      if (std::find(names.begin(), names.end(), flag) != names.end())
        owners.push_back(other->get_name());
    }
  std::string message = "unknown option '" + flag + "' for '" + name + "'";
  if (!owners.empty())
    return message + " (it is an option of " + listOf(owners, "and") + ")";
  return message + suggestion(flag, optionNames(command));
}

/// A usage error: the message, and where to find the usage.
CommandLine usageError(const std::string &message, const CLI::App *command) {
  CommandLine result;
  result.exitStatus = 1;
  result.err = "cnnrun: error: " + message + "\n";
  if (command)
    result.err += "Run 'cnnrun " + command->get_name() + " --help' for the options of " +
                  command->get_name() + ".\n";
  else
    result.err += "Run 'cnnrun --help' for usage.\n";
  return result;
}

/// The usage error for arguments that no command or option took, if any:
/// reported before CLI11's own errors, since a missing value or required
/// option is often the consequence of a mistyped one. `args` is the command
/// line without the program name.
std::optional<CommandLine> unexpectedArguments(const CLI::App &app, const CLI::App *command,
                                               const std::vector<std::string> &args) {
  std::vector<std::string> extra = app.remaining();
  if (!extra.empty()) {
    const std::string &first = extra.front();
    auto firstAt = std::find(args.begin(), args.end(), first);
    if (command && firstAt > std::find(args.begin(), args.end(), command->get_name()))
      return usageError("unexpected argument '" + first + "' for '" + command->get_name() + "'",
                        command); // left over after the command's arguments, as after "--"
    if (first.rfind("-", 0) == 0)
      return usageError("unknown option '" + first +
                            "' before the command (cnnrun COMMAND MODEL.so [OPTIONS])",
                        nullptr);
    std::vector<std::string> commands = commandNames(app);
    return usageError("unknown command '" + first + "'" + suggestion(first, commands) +
                          "; the commands are " + listOf(commands, "and"),
                      nullptr);
  }
  if (command)
    if (std::vector<std::string> unused = command->remaining(); !unused.empty())
      return usageError(unexpectedArgument(app, *command, unused.front()), command);
  return std::nullopt;
}

/// CLI11's message for `error`, "--batch needs a value" for a missing value.
std::string parseErrorMessage(const CLI::ParseError &error) {
  std::string message = error.what();
  size_t colon = message.find(": ");
  if (dynamic_cast<const CLI::ArgumentMismatch *>(&error) && colon != std::string::npos &&
      message.size() >= 8 && message.compare(message.size() - 8, 8, " missing") == 0)
    return message.substr(0, colon) + " needs a value";
  return message;
}

/// Why options given together do nothing, or "" if they all have an effect.
std::string optionsWithoutEffect(const Options &o) {
  if (!o.stripPrefix.empty() && o.weights.empty())
    return "--strip-prefix applies to --weights (the parameters file to read)";
  if (o.preprocessing.mean.empty() != o.preprocessing.std.empty())
    return std::string(o.preprocessing.mean.empty() ? "--std" : "--mean") + " needs " +
           (o.preprocessing.mean.empty() ? "--mean" : "--std") +
           " (items are normalized to (x - mean) / std)";
  if (o.command != "train")
    return "";
  if (o.checkpointEvery && o.checkpoint.empty())
    return "--checkpoint-every needs --checkpoint PATH (where to write)";
  if (o.printEvery && o.json)
    return "--print-every does nothing with --json (which prints one object per epoch only)";
  if (!o.resume.empty() && !o.weights.empty())
    return "--weights does nothing with --resume (the checkpoint holds the parameters)";
  return "";
}

std::string versionText() {
  return "cnnrun (cnnc) for models of ABI version " + std::to_string(cnnc::schema::kAbiVersion);
}

} // namespace

CommandLine parseCommandLine(int argc, const char *const *argv) {
  std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  CommandLine result;
  Options &o = result.options;
  CLI::App app("cnnrun: inspect, run, time, train and evaluate a model.so compiled by cnnc.",
               "cnnrun");
  app.set_version_flag("--version", versionText(), "Print the version and exit");
  app.require_subcommand(0, 1);
  app.allow_extras(); // reported below, with suggestions
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  addCommands(app, o);
  for (CLI::App *command : app.get_subcommands({}))
    command->allow_extras();
  // After the subcommands, which would inherit it.
  app.footer("Run 'cnnrun COMMAND --help' for the options of a command. cnnrun exits with 0 on "
             "success and 1 on any error, printed as 'cnnrun: error: MESSAGE'.");

  auto activeCommand = [&]() -> const CLI::App * {
    std::vector<CLI::App *> parsed = app.get_subcommands();
    return parsed.empty() ? nullptr : parsed.front();
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success &e) { // --help or --version: CLI11 writes the text
    std::ostringstream out, err;
    result.exitStatus = app.exit(e, out, err);
    result.out = out.str();
    return result;
  } catch (const CLI::ParseError &e) {
    if (std::optional<CommandLine> unexpected = unexpectedArguments(app, activeCommand(), args))
      return *unexpected;
    return usageError(parseErrorMessage(e), activeCommand());
  }

  const CLI::App *command = activeCommand();
  if (std::optional<CommandLine> unexpected = unexpectedArguments(app, command, args))
    return *unexpected;
  if (!command)
    return usageError("missing command: cnnrun COMMAND MODEL.so [OPTIONS], COMMAND one of " +
                          listOf(commandNames(app), "or"),
                      nullptr);
  o.command = command->get_name();
  if (std::string conflict = optionsWithoutEffect(o); !conflict.empty())
    return usageError(conflict, command);
  return result;
}

CommandLine parseCommandLine(const std::vector<std::string> &args) {
  std::vector<const char *> argv = {"cnnrun"};
  for (const std::string &arg : args)
    argv.push_back(arg.c_str());
  return parseCommandLine(int(argv.size()), argv.data());
}

} // namespace cnnrun
