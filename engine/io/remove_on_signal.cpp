#include "engine/io/remove_on_signal.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <vector>

#include <unistd.h>

namespace plateau {

namespace {

/// What the handler reads. Static because a signal handler has no other way to reach it; the
/// paths are copied in before a slot is armed, so the handler never allocates or locks.
struct Slot {
    std::array<char, 4096> path{};
    std::atomic<int> armed{0};
};
static_assert(std::atomic<int>::is_always_lock_free, "the handler reads `armed`");

struct SignalState {
    std::array<Slot, 4> slots{};
    std::array<struct sigaction, NSIG> previous{};
    std::array<bool, NSIG> installed{};
    int live = 0; ///< guards alive (handlers are installed while > 0)
};
constinit SignalState signal_state{};

/// A fault raised by the instruction itself (not sent by kill): returning re-executes it, and
/// it faults again under the restored default action, with its own address and core dump.
bool is_fault(int sig, const siginfo_t* info) noexcept {
    const bool fault_signal =
        sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGSYS;
    return fault_signal && info != nullptr && info->si_code > 0;
}

extern "C" void remove_and_reraise(int sig, siginfo_t* info, void* /*context*/) {
    const int saved_errno = errno;
    for (auto& slot : signal_state.slots)
        if (slot.armed.load() != 0)
            unlink(slot.path.data());
    // The previous disposition is the default one (only those are replaced): the process ends
    // of the signal once the handler returns (it is blocked while the handler runs).
    sigaction(sig, &signal_state.previous[static_cast<std::size_t>(sig)], nullptr);
    if (!is_fault(sig, info))
        raise(sig);
    errno = saved_errno;
}

bool is_ours(const struct sigaction& a) noexcept {
    return (a.sa_flags & SA_SIGINFO) != 0 && a.sa_sigaction == remove_and_reraise;
}

void install_handlers() noexcept {
    struct sigaction action {};
    action.sa_sigaction = remove_and_reraise;
    action.sa_flags = SA_SIGINFO;
    sigfillset(&action.sa_mask); // no second signal interrupts the removal
    for (const int sig : terminating_signals()) {
        const auto i = static_cast<std::size_t>(sig);
        struct sigaction previous {};
        signal_state.installed[i] = false;
        if (sigaction(sig, nullptr, &previous) != 0 || (previous.sa_flags & SA_SIGINFO) != 0 ||
            previous.sa_handler != SIG_DFL)
            continue; // ignored, or handled by someone else: not ours to change
        signal_state.previous[i] = previous;
        signal_state.installed[i] = sigaction(sig, &action, nullptr) == 0;
    }
}

void restore_handlers() noexcept {
    for (const int sig : terminating_signals()) {
        const auto i = static_cast<std::size_t>(sig);
        struct sigaction current {};
        if (signal_state.installed[i] && sigaction(sig, nullptr, &current) == 0 && is_ours(current))
            sigaction(sig, &signal_state.previous[i], nullptr);
        signal_state.installed[i] = false;
    }
}

} // namespace

std::span<const int> terminating_signals() noexcept {
    // SIGRTMIN is a run-time value (the C library keeps the first real-time signals).
    static const std::vector<int> signals = [] {
        std::vector<int> s{SIGHUP,  SIGINT,    SIGQUIT, SIGILL,  SIGABRT, SIGBUS,  SIGFPE,
                           SIGUSR1, SIGSEGV,   SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGXCPU,
                           SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO,   SIGSYS};
#ifdef SIGSTKFLT
        s.push_back(SIGSTKFLT);
#endif
#ifdef SIGPWR
        s.push_back(SIGPWR);
#endif
        for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig)
            s.push_back(sig);
        return s;
    }();
    return signals;
}

RemoveOnSignal::RemoveOnSignal(const std::filesystem::path& path) noexcept {
    const std::string& p = path.native();
    for (std::size_t i = 0; i < signal_state.slots.size(); ++i) {
        Slot& slot = signal_state.slots[i];
        if (slot.armed.load() != 0 || p.size() >= slot.path.size())
            continue;
        std::copy(p.begin(), p.end(), slot.path.begin());
        slot.path[p.size()] = '\0';
        slot.armed.store(1);
        slot_ = static_cast<int>(i);
        if (signal_state.live++ == 0)
            install_handlers();
        return;
    }
}

void RemoveOnSignal::release() noexcept {
    if (slot_ < 0)
        return;
    signal_state.slots[static_cast<std::size_t>(slot_)].armed.store(0);
    slot_ = -1;
    if (--signal_state.live == 0)
        restore_handlers();
}

RemoveOnSignal::~RemoveOnSignal() {
    release();
}

} // namespace plateau
