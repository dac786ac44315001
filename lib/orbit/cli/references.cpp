#include "orbit/cli/references.hpp"

#include <stdexcept>
#include <utility>

namespace orbit::cli {
namespace {

struct Reference {
    std::string_view key, label, citation;
};

// Grouped by field; a new method adds its paper here.
constexpr Reference kReferences[] = {
    // registration
    {"icp", "ICP", "P. J. Besl, N. D. McKay. A method for registration of 3-D shapes. IEEE TPAMI 14(2), 1992"},
    {"icp-plane", "point-to-plane ICP", "Y. Chen, G. Medioni. Object modelling by registration of multiple range images. Image and Vision Computing 10(3), 1992"},
    {"trimmed-icp", "trimmed ICP", "D. Chetverikov et al. The Trimmed Iterative Closest Point algorithm. ICPR 2002"},
    {"cpd", "CPD", "A. Myronenko, X. Song. Point Set Registration: Coherent Point Drift. IEEE TPAMI 32(12), 2010"},
    {"fpfh", "FPFH", "R. B. Rusu, N. Blodow, M. Beetz. Fast Point Feature Histograms (FPFH) for 3D registration. ICRA 2009"},
    {"ransac", "RANSAC", "M. A. Fischler, R. C. Bolles. Random sample consensus. Communications of the ACM 24(6), 1981"},
    {"sc2-pcr", "SC2-PCR", "Z. Chen et al. SC^2-PCR: A Second Order Spatial Compatibility for Efficient and Robust Point Cloud Registration. CVPR 2022"},
    {"ppf", "Drost PPF", "B. Drost, M. Ulrich, N. Navab, S. Ilic. Model Globally, Match Locally: Efficient and Robust 3D Object Recognition. CVPR 2010"},
    {"udpreg", "UDPReg", "G. Mei et al. Unsupervised Deep Probabilistic Approach for Partial Point Cloud Registration. CVPR 2023, arXiv:2303.13290"},
    {"umeyama", "Kabsch / Umeyama", "S. Umeyama. Least-squares estimation of transformation parameters between two point patterns. IEEE TPAMI 13(4), 1991"},
    {"rpm-net", "RPM-Net protocol", "Z. J. Yew, G. H. Lee. RPM-Net: Robust Point Matching using Learned Features. CVPR 2020"},
    {"infonce", "InfoNCE", "A. van den Oord, Y. Li, O. Vinyals. Representation Learning with Contrastive Predictive Coding. arXiv:1807.03748, 2018"},
    // invariance and canonicalization
    {"frame-averaging", "Frame Averaging", "O. Puny et al. Frame Averaging for Invariant and Equivariant Network Design. ICLR 2022"},
    {"canonicalization", "canonicalization", "S.-O. Kaba et al. Equivariance with Learned Canonicalization Functions. ICML 2023"},
    {"canonicalization-prior", "canonicalization prior", "A. K. Mondal et al. Equivariant Adaptation of Large Pretrained Models. NeurIPS 2023"},
    {"vector-neurons", "vector neurons", "C. Deng et al. Vector Neurons: A General Framework for SO(3)-Equivariant Networks. ICCV 2021"},
    {"tinvnn", "TinvNN (MDS coordinates)", "Z. Zhang, X. Wang, Z. Zhang, P. Cui, W. Zhu. Revisiting Transformation Invariant Geometric Deep Learning: Are Initial Representations All You Need? arXiv:2112.12345, 2021"},
    {"landmark-mds", "landmark MDS", "V. de Silva, J. B. Tenenbaum. Sparse multidimensional scaling using landmark points. Technical report, Stanford, 2004"},
    {"lie-derivative", "Lie derivative", "N. Gruver, M. Finzi, M. Goldblum, A. G. Wilson. The Lie Derivative for Measuring Learned Equivariance. ICLR 2023"},
    {"e3nn", "sampled equivariance error", "M. Geiger, T. Smidt. e3nn: Euclidean Neural Networks. arXiv:2207.09453, 2022"},
    {"explanation-invariance", "explanation invariance", "J. Crabbe, M. van der Schaar. Evaluating the Robustness of Interpretability Methods through Explanation Invariance and Equivariance. NeurIPS 2023"},
    // flows
    {"nsf", "NSF", "C. Durkan, A. Bekasov, I. Murray, G. Papamakarios. Neural Spline Flows. NeurIPS 2019"},
    {"realnvp", "Real NVP", "L. Dinh, J. Sohl-Dickstein, S. Bengio. Density estimation using Real NVP. ICLR 2017"},
    {"neural-ode", "continuous normalizing flows", "R. T. Q. Chen et al. Neural Ordinary Differential Equations. NeurIPS 2018"},
    {"flow-matching", "flow matching", "Y. Lipman et al. Flow Matching for Generative Modeling. ICLR 2023"},
    {"ot-cfm", "CFM / OT-CFM", "A. Tong et al. Improving and generalizing flow-based generative models with minibatch optimal transport. TMLR 2024"},
    {"riemannian-fm", "Riemannian flow matching", "R. T. Q. Chen, Y. Lipman. Flow Matching on General Geometries. ICLR 2024"},
    {"dopri5", "dopri5", "J. R. Dormand, P. J. Prince. A family of embedded Runge-Kutta formulae. J. Comput. Appl. Math. 6(1), 1980"},
    // optimal transport
    {"sinkhorn", "Sinkhorn distances", "M. Cuturi. Sinkhorn Distances: Lightspeed Computation of Optimal Transport. NeurIPS 2013"},
    {"log-domain-sinkhorn", "log-domain stabilization", "B. Schmitzer. Stabilized Sparse Scaling Algorithms for Entropy Regularized Transport Problems. SIAM J. Sci. Comput. 41(3), 2019"},
    {"unbalanced-ot", "unbalanced transport", "L. Chizat, G. Peyre, B. Schmitzer, F.-X. Vialard. Scaling Algorithms for Unbalanced Optimal Transport Problems. Math. Comp. 87, 2018"},
    {"geomloss", "Sinkhorn divergences (GeomLoss)", "J. Feydy et al. Interpolating between Optimal Transport and MMD using Sinkhorn Divergences. AISTATS 2019"},
    {"unbalanced-divergence", "unbalanced divergences", "T. Sejourne et al. Sinkhorn Divergences for Unbalanced Optimal Transport. arXiv:1910.12958, 2019"},
    {"bregman-projections", "partial transport, barycenters", "J.-D. Benamou et al. Iterative Bregman Projections for Regularized Transportation Problems. SIAM J. Sci. Comput. 37(2), 2015"},
    {"over-relaxation", "over-relaxation", "T. Lehmann, M.-K. von Renesse, A. Sambale, A. Uschmajew. A note on overrelaxation in the Sinkhorn algorithm. Optim. Lett. 16, 2022"},
    {"gromov-wasserstein", "Gromov-Wasserstein", "G. Peyre, M. Cuturi, J. Solomon. Gromov-Wasserstein Averaging of Kernel and Distance Matrices. ICML 2016"},
    {"fused-gw", "fused Gromov-Wasserstein", "T. Vayer et al. Optimal Transport for structured data with application on graphs. ICML 2019"},
    {"sliced-wasserstein", "sliced Wasserstein", "N. Bonneel, J. Rabin, G. Peyre, H. Pfister. Sliced and Radon Wasserstein Barycenters of Measures. JMIV 51, 2015"},
    {"debiased-barycenter", "debiased barycenters", "H. Janati, M. Cuturi, A. Gramfort. Debiased Sinkhorn barycenters. ICML 2020"},
    {"free-support-barycenter", "free-support barycenters", "M. Cuturi, A. Doucet. Fast Computation of Wasserstein Barycenters. ICML 2014"},
    {"fixed-point-barycenter", "fixed-point barycenters", "P. C. Alvarez-Esteban et al. A fixed-point approach to barycenters in Wasserstein space. J. Math. Anal. Appl. 441(2), 2016"},
    {"pot", "POT", "R. Flamary et al. POT: Python Optimal Transport. JMLR 22(78), 2021"},
    // sampling and perturbations
    {"surface-sampling", "uniform surface sampling", "R. Osada, T. Funkhouser, B. Chazelle, D. Dobkin. Shape distributions. ACM TOG 21(4), 2002"},
    {"uniform-rotations", "uniform rotations", "K. Shoemake. Uniform random rotations. Graphics Gems III, 1992"},
};

}  // namespace

std::string references(std::initializer_list<std::string_view> keys) {
    std::string block;
    for (std::string_view key : keys) {
        const Reference* found = nullptr;
        for (const Reference& r : kReferences)
            if (r.key == key) found = &r;
        if (!found) throw std::logic_error("no reference with the key '" + std::string(key) + "'");
        block.append(found->label).append(": ").append(found->citation).append("\n");
    }
    return block;
}

}  // namespace orbit::cli
