// How a theory file (`plateau ode`, root attribute kind = "theory") was made, as root attributes
// of its own (schema 1.5, analysis/SCHEMA.md "Root attributes"): the method that evaluates the
// flow's averages, the integrator's tolerances and where the runs start. The same facts are in
// the `config` text (after "# plateau ode"); these attributes say them without parsing it.
#pragma once

#include "engine/campaign/campaign.hpp"
#include "engine/campaign/theory_runs.hpp"
#include "engine/core/enum_table.hpp"
#include "engine/io/h5/object.hpp"

#include <array>
#include <optional>
#include <string>

namespace plateau {

/// How the flow's Gaussian averages are evaluated (docs/theory.md §3, §9, §10).
enum class TheoryMethod {
    closed_form, ///< h = h* = identity, g = g* with a closed form (erf, relu, linear), §3
    quadrature,  ///< h = h* = identity, g = g* by numerical quadrature (tanh, sigmoid, ...), §9
    joint,       ///< any other h, h*, g, g*: the joint rule of joint-points points, §10
    tensor,      ///< tanh/sigmoid (K + M <= 4) or polynomial g != g*: the tensor rule, §9, §8
};
[[nodiscard]] constexpr auto enum_table(TheoryMethod) noexcept {
    return std::to_array<EnumEntry<TheoryMethod>>({{TheoryMethod::closed_form, "closed-form"},
                                                   {TheoryMethod::quadrature, "quadrature"},
                                                   {TheoryMethod::joint, "joint"},
                                                   {TheoryMethod::tensor, "tensor"}});
}

/// The method of the flow of `model` (flow_method, and has_closed_form for the integrals).
[[nodiscard]] TheoryMethod theory_method(const ModelParams& model) noexcept;

/// The text of attribute `theory_method`: the method's name when every grid point of `spec` has
/// the same (the usual case), else one name per grid point, space-separated, in grid-point order
/// (grid point = run_index // seeds).
[[nodiscard]] std::string theory_method_text(const CampaignSpec& spec);

/// The root attributes of a theory file (names as written: theory_<member>).
struct TheoryAttributes {
    std::string method{}; ///< theory_method_text()
    double rtol = 0.0;    ///< of the Dormand-Prince integrator (engine/theory/ode_integrator.hpp)
    double atol = 0.0;
    std::string init{}; ///< "sample", "symmetric" or "file" (`plateau ode --init`, --init-from)
    std::optional<double> r0 = std::nullopt;             ///< init = symmetric only
    std::optional<double> asymmetry = std::nullopt;      ///< init = symmetric only
    std::optional<std::string> init_from = std::nullopt; ///< init = file only
    std::optional<bool> init_average = std::nullopt;     ///< init = file only
    /// `plateau ode --predictions`: written only when none (theory_predictions = "none"); a file
    /// without the attribute computed them
    PredictionMode predictions = PredictionMode::automatic;
    friend bool operator==(const TheoryAttributes&, const TheoryAttributes&) = default;
};

/// Writes them on `object` (the root of a theory file).
void write_theory_attributes(const h5::Object& object, const TheoryAttributes& a);
/// Reads them back; nullopt for a file without them (a simulation file, or a theory file of
/// schema 1.4 or older).
[[nodiscard]] std::optional<TheoryAttributes> read_theory_attributes(const h5::Object& object);

} // namespace plateau
