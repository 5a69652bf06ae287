// plateau: the command-line entry point. Subcommands live in their own files.
#include "cli/commands.hpp"
#include "cli/mpi.hpp"
#include "cli/options.hpp"

#include <cstring>
#include <iostream>
#include <malloc.h>
#include <string>
#include <string_view>

namespace {

void print_usage(std::ostream& os) {
    os << "usage: plateau <command> [options]\n\n"
          "commands:\n"
          "  run     teacher-student campaign: on-line gradient descent simulations\n"
          "  ode     the N -> infinity theory of the same configuration (ODEs of the order\n"
          "          parameters), or its plateau fixed point and escape rate\n"
          "  merge   join the files of a campaign's shards (run --shard i/n) into one file\n"
          "  help    this text; 'plateau <command> --help' for a command's options\n";
}

} // namespace

int main(int argc, char** argv) {
    // glibc hands a freed block above 128 KB back to the system at once (munmap, or a trim of
    // the heap's top), so that the next allocation of its size faults its pages in again. The
    // theory's flow allocates about 1 MB of node values per evaluation (docs/theory.md §10):
    // --fixed-point spent 16 % of its CPU time in the kernel (docs/PERFORMANCE.md §20). Freed
    // memory up to these sizes stays with the process for reuse; results are unchanged.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    if (argc < 2) {
        print_usage(std::cerr);
        return 2;
    }
    const std::string_view command = argv[1];
    if (command == "help" || command == "--help" || command == "-h") {
        print_usage(std::cout);
        return 0;
    }
    if (command == "--version") {
        std::cout << plateau::cli::version_text() << '\n';
        return 0;
    }
    std::string command_line;
    for (int i = 0; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool quote = arg.empty() || arg.find_first_of(" \t'\"$") != std::string::npos;
        command_line += (i ? " " : "") + (quote ? "'" + arg + "'" : arg);
    }
    if (command == "run" || command == "ode" || command == "merge") {
        try {
            (void)plateau::cli::mpi::world(); // starts MPI under an MPI launcher
        } catch (const plateau::cli::UsageError& e) {
            std::cerr << "plateau " << command << ": " << e.what() << '\n';
            return 2;
        }
        // (merge refuses an MPI launch; started here, MPI is ended below on every rank)
        const int status =
            command == "run"   ? plateau::cli::run_command(argc - 1, argv + 1, command_line)
            : command == "ode" ? plateau::cli::ode_command(argc - 1, argv + 1, command_line)
                               : plateau::cli::merge_command(argc - 1, argv + 1, command_line);
        plateau::cli::mpi::finalize();
        return status;
    }
    std::cerr << "plateau: unknown command '" << command
              << "': allowed are run, ode, merge, help\n";
    return 2;
}
