#include "models/activation.hpp"

namespace plateau {

std::optional<ActivationKind> parse_activation(std::string_view s) noexcept {
    for (const auto k : all_activation_kinds) {
        const bool match = visit_activation(k, [&]<class E>(std::type_identity<E>) noexcept {
            if (E::name == s)
                return true;
            for (const std::string_view alias : E::aliases)
                if (alias == s)
                    return true;
            return false;
        });
        if (match)
            return k;
    }
    return std::nullopt;
}

std::string activation_names() {
    std::string out;
    for (const auto k : all_activation_kinds) {
        if (!out.empty())
            out += ", ";
        out += name(k);
    }
    return out;
}

std::optional<ActivationKind> parse_output(std::string_view s) noexcept {
    for (const auto k : output_kinds)
        if (output_name(k) == s)
            return k;
    const auto k = parse_activation(s);
    return k && is_output_kind(*k) ? k : std::nullopt;
}

std::string output_names() {
    std::string out;
    for (const auto k : output_kinds) {
        if (!out.empty())
            out += ", ";
        out += output_name(k);
    }
    return out;
}

} // namespace plateau
