#include "models/activation.hpp"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <system_error>

namespace plateau {

namespace {

/// The shortest text that reads back to x (as number_text, engine/core/errors.hpp, which models/
/// cannot include).
std::string shortest_text(double x) {
    std::array<char, 32> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), x);
    return std::string(buf.data(), res.ptr);
}

/// A finite number, the whole of `s` ("+1" and white space are not numbers, as in the
/// configuration's parse_double).
std::optional<double> finite_number(std::string_view s) {
    double x = 0.0;
    const auto* end = s.data() + s.size();
    const auto res = std::from_chars(s.data(), end, x);
    if (s.empty() || res.ec != std::errc{} || res.ptr != end || !std::isfinite(x))
        return std::nullopt;
    return x;
}

} // namespace

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

std::optional<Polynomial> as_polynomial(const Activation& g) noexcept {
    return visit_activation(g.kind, [&]<class E>(std::type_identity<E>) noexcept {
        if constexpr (E::quadrature == activations::QuadratureShape::polynomial)
            return std::optional<Polynomial>(E::polynomial(g));
        else
            return std::optional<Polynomial>{};
    });
}

std::optional<Activation> parse_hidden_activation(std::string_view text) {
    const std::string_view poly = name(ActivationKind::poly);
    if (!text.starts_with(poly) || text.size() == poly.size() ||
        text[poly.size()] != poly_separator) {
        const auto k = parse_activation(text);
        if (!k || *k == ActivationKind::poly) // poly needs its coefficients
            return std::nullopt;
        return Activation{*k};
    }
    Polynomial c;
    std::size_t count = 0;
    std::string_view rest = text.substr(poly.size() + 1);
    while (true) {
        const auto end = rest.find(poly_separator);
        const auto x = finite_number(rest.substr(0, end));
        if (!x || count > static_cast<std::size_t>(Polynomial::max_degree))
            return std::nullopt;
        c.c[count++] = *x;
        if (end == std::string_view::npos)
            break;
        rest.remove_prefix(end + 1);
    }
    if (c.is_zero())
        return std::nullopt;
    return Activation{ActivationKind::poly, 1.0, c};
}

std::string hidden_activation_text(const Activation& g) {
    std::string out(name(g.kind));
    if (g.kind == ActivationKind::poly)
        for (int k = 0; k <= g.coefficients.degree(); ++k)
            out += poly_separator + shortest_text(g.coefficients.c[static_cast<std::size_t>(k)]);
    return out;
}

const std::string& hidden_activation_forms() {
    static const std::string forms = [] {
        std::string out = "one of ";
        for (const auto k : all_activation_kinds)
            if (k != ActivationKind::poly)
                out += std::string(name(k)) + ", ";
        return out + "or " + std::string(poly_form);
    }();
    return forms;
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
