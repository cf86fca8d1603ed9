// Package model is Odeflow's model registry: a JSON-serializable Spec per
// kind of flow, New and Build to construct the flow a Spec describes, and
// Save and Load to keep trained models in files. The odeflow command uses
// it; Go programs can too, so that a model trained by either is read by
// both.
//
// # Kinds
//
//	cnf      FFJORD (package cnf): Blocks CNF blocks on MLP vector fields,
//	         each optionally preceded by an ActNorm layer
//	nice     additive coupling (discrete.NewNICE)
//	realnvp  affine coupling (discrete.NewRealNVP)
//	maf      masked autoregressive flow (discrete.NewMAF)
//	iaf      inverse autoregressive flow (discrete.NewIAF)
//	nsf      neural spline flow: coupling (discrete.NewNSF) or, with
//	         Autoregressive, autoregressive (discrete.NewNSFAutoregressive)
//	glow     ActNorm + LU + affine coupling (discrete.NewGlow)
//	bnaf     block neural autoregressive flow (discrete.NewBNAFFlow)
//	planar   planar flow (discrete.NewPlanarFlow; no context)
//
// Every kind has a standard normal base. A Spec with ContextDim > 0 builds
// a conditional flow.
//
// # Determinism
//
// A model is a function of its Spec: Build draws the initial weights, the
// random masks and permutations and Glow's LU factors from a PCG stream
// seeded by Spec.Seed, and gives each CNF block its own PCG stream for the
// Hutchinson probe noise, also seeded by Spec.Seed. Building the same Spec
// twice gives bit-identical models. Resolve fills in every default, and
// the resolved Spec is what Save stores, so a later odeflow with other
// defaults still rebuilds the same architecture.
//
// # Files
//
// Save writes a model file in the versioned format of package modelfile:
// kind = Spec.Kind, config = the resolved Spec as JSON, the parameter
// vector bit for bit, the training metadata, and for a CNF the section
// "model/noise" with the states of the probe-noise sources. Load reads
// the file, rebuilds the flow from the spec, copies the parameters and
// restores the noise states, so that the reloaded model's log-densities,
// samples and encodings are bit-identical to those of the model that was
// saved. Other sections (the odeflow command keeps a training checkpoint
// in one) are carried in Model.Sections.
//
// A file from a newer odeflow fails with a clear error at one of three
// levels: a newer container format (modelfile.VersionError), an unknown
// kind, or an unknown field in the spec. A corrupt, truncated or tampered
// file fails modelfile's checks; a file whose parameter count does not
// fit its spec fails with ErrMismatch. Load never panics on a bad file.
package model
